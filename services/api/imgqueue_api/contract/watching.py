"""Operations that follow jobs live (events), and the operators' and health routes."""

from __future__ import annotations

from . import examples as ex
from .fields import HISTORY_WINDOW, JOB_ID, STREAM_BATCH, STREAM_IDS, STREAM_SUMMARY, TICKET
from .model import Ok, Operation, ref

_STREAM = ("Server-sent events (`text/event-stream`), for EventSource or any HTTP client: a `job` event per "
           "transition with the job's id, status and time. A comment every 15 s keeps proxies from closing it. "
           "`resync` means events were lost (reconnect, re-read); a stream ends with `revoked` within seconds "
           "of the revocation of its token. EventSource cannot send a header: pass `?ticket=` from POST "
           "/events/ticket instead.")
_SSE = ref("ServerSentEvent")
_STREAM_REFUSALS = ("too_many_streams",)

JOB_EVENTS = Operation(
    endpoint="events.job_events", id="jobEvents", tag="events", summary="Follow one job until it ends",
    description="The job's record first, then each of its transitions; the stream closes after done, failed "
                "or cancelled. " + _STREAM,
    ok=Ok(200, "an event stream", _SSE, ex.EVENTS, media="text/event-stream"),
    errors=("job_not_found", *_STREAM_REFUSALS), params=(JOB_ID, TICKET), path_example={"job_id": ex.JOB_ID},
    python=f'for event in client.iter_events("{ex.JOB_ID}"):\n    print(event.name, event.data)',
    curl=("-N",))

EVENTS = Operation(
    endpoint="events.all_events", id="events", tag="events", summary="Follow every job of the caller",
    description="Every transition of the caller's jobs (an admin's: of all), narrowed by `ids` or `batch`; "
                "admins also get a `summary` (counts and workers) every 2 s. " + _STREAM,
    ok=Ok(200, "an event stream", _SSE, ex.EVENTS, media="text/event-stream"),
    errors=("invalid_parameter", *_STREAM_REFUSALS), params=(STREAM_IDS, STREAM_BATCH, STREAM_SUMMARY, TICKET),
    python=f'for event in client.iter_events(batch="{ex.BATCH}"):\n    print(event.name, event.data)',
    curl=("-N", "-G", f"-d batch={ex.BATCH}"))

TICKET_OP = Operation(
    endpoint="events.ticket", id="streamTicket", tag="events",
    summary="A short-lived ticket that opens an event stream where no header can be sent",
    description="For EventSource in a browser: `new EventSource('/events?ticket=' + ticket)`. The ticket is "
                "signed, names the caller, and is valid STREAM_TICKET_TTL seconds.",
    ok=Ok(200, "a ticket", ref("Ticket"), {"ticket": ex.TICKET, "expiresIn": 60}),
    store=False, python="ticket = client.stream_ticket()")

STATS = Operation(
    endpoint="jobs.stats", id="stats", tag="admin", summary="Counters, queue depth and the worker registry",
    description="What the dashboard shows: counters since the start (done, failed by reason, retried, lost...), "
                "jobs in each status that is not final, and every worker with its heartbeat.",
    ok=Ok(200, "the counters", ref("Stats"), {"queue": "image_jobs", "counts": ex.counts(), "workers": [ex.WORKER]}),
    python="client.stats()")

HISTORY = Operation(
    endpoint="jobs.history", id="history", tag="admin", summary="The charts' points: the queue over time",
    description="One point per sample the workers keep (HISTORY_INTERVAL apart, HISTORY_LENGTH of them): jobs "
                "done, failed and cancelled per minute, failures by reason, the p50 and p95 time from upload to "
                "done of the jobs done since the sample before, and the queue depth by priority. `window`: the "
                "last seconds wanted (60 to a week; default an hour).",
    ok=Ok(200, "the points, oldest first", ref("History"), {"window": 3600, "points": [ex.history_point()]}),
    errors=("invalid_parameter",), params=(HISTORY_WINDOW,), python="client.history(window=3600)",
    curl=("-G", "-d window=3600"))

METRICS = Operation(
    endpoint="metrics.metrics", id="metrics", tag="admin", summary="Prometheus metrics",
    description="Queue depth by priority, jobs by outcome, processing and queue-wait histograms, workers alive, "
                "bytes stored, API latency. Read from Redis at scrape time: every API replica reports the same "
                "job figures. Scrape with an admin token or a METRICS_TOKEN.",
    ok=Ok(200, "Prometheus text format", {"type": "string"}, ex.METRICS, media="text/plain"),
    python="print(client.metrics())")

SCALING = Operation(
    endpoint="metrics.scaling", id="scaling", tag="admin", summary="The backlog an autoscaler scales workers on",
    description="For KEDA's metrics-api scaler (or any autoscaler): `backlog` counts the jobs that need a "
                "worker now: queued, being processed (scaling in must not take their workers away), and delayed "
                "or retrying jobs whose time has come. Jobs due later (`waiting`) need no worker yet.",
    ok=Ok(200, "the backlog", ref("Scaling"),
          {"backlog": 17, "queued": 12, "processing": 4, "due": 1, "waiting": 1, "delayed": 2, "workers": 4}),
    python='client.scaling()["backlog"]')

ME = Operation(
    endpoint="jobs.me", id="me", tag="health", summary="Who the API takes the caller for",
    description="Checks a token: its tenant and role, and the API's auth mode.",
    ok=Ok(200, "the caller", ref("Me"), {"tenant": "acme", "role": "client", "authMode": "token"}),
    python="client.me()")

HEALTHZ = Operation(
    endpoint="health.healthz", id="healthz", tag="health", summary="The process is up",
    description="Liveness: the API process serves requests. It does not ask Redis.",
    ok=Ok(200, "up", ref("Health"), {"status": "ok"}), store=False, python="client.alive()")

READYZ = Operation(
    endpoint="health.readyz", id="readyz", tag="health", summary="Uploads can be accepted",
    description="Readiness: Redis answers. A load balancer sends uploads only to a ready instance.",
    ok=Ok(200, "ready", ref("Health"), {"status": "ready"}), python="client.ready()")

OPERATIONS = (JOB_EVENTS, EVENTS, TICKET_OP, STATS, HISTORY, METRICS, SCALING, ME, HEALTHZ, READYZ)
