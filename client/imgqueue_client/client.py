"""``Client``: submit images, read and wait for jobs, download results, follow live events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import requests

from .errors import ApiError, error_for
from .statuses import TERMINAL

_BATCH = 100  # job ids per GET /jobs?ids=
IDEMPOTENCY = "Idempotency-Key"


@dataclass(frozen=True)
class Event:
    """One server-sent event: ``name`` (open, job, batch, webhook, summary, sample, resync, overflow, stop)
    and its JSON ``data``."""

    name: str
    data: dict[str, Any]


class Client:
    """``url``: the API's base URL; ``token``: an API token (AUTH_MODE=token), sent as a Bearer header."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0,
                 session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    # --- uploads -----------------------------------------------------------------------------------

    def submit(self, image: str | Path | bytes | IO[bytes], width: int | str | None = None,
               height: int | str | None = None, *, filename: str | None = None, priority: str | None = None,
               delay: float | str | None = None, run_at: datetime | str | None = None,
               idempotency_key: str | None = None, variants: Sequence[Mapping[str, Any]] | str | None = None,
               preset: str | None = None, placeholder: str | None = None, callback_url: str | None = None,
               batch: str | None = None, raw: bool = False, **options: Any) -> dict[str, Any]:
        """Upload one image (``POST /upload``); ``options`` are the resize fields (fit, format, quality,
        progressive, without_enlargement, background, crop, fx, fy, keep_icc). ``variants``: a set of named
        outputs from one decode (each a dict with a ``name`` and resize fields; the fields above are their
        defaults), or ``preset``: an operator's named set; ``placeholder``: blurhash or thumbhash.
        ``priority``: high, normal or low; ``delay`` (seconds) or ``run_at`` (a time): when it runs;
        ``idempotency_key``: a retried call with it makes no second job; ``callback_url``: where a signed
        webhook tells that it ended; ``batch``: the id of a batch (``create_batch``) it belongs to; ``raw``: send
        the image as the whole body (``PUT /upload``, the options in the query string: cheaper for the API).
        Returns ``{"jobId", "status", "statusUrl", ...}``."""
        form = _form(width, height, {**options, **_scheduling(priority, delay, run_at),
                                     **_set(variants, preset, placeholder), "callbackUrl": callback_url,
                                     "batch": batch})
        headers = {IDEMPOTENCY: idempotency_key} if idempotency_key else {}
        if raw:
            return self._put_image(image, filename, form, headers)
        if isinstance(image, (str, Path)):
            path = Path(image)
            with path.open("rb") as fh:
                return self._json("POST", "/upload", files={"image": (filename or path.name, fh)}, data=form,
                                  headers=headers)
        return self._json("POST", "/upload", files={"image": (filename or "image", image)}, data=form,
                          headers=headers)

    def _put_image(self, image: str | Path | bytes | IO[bytes], filename: str | None, form: dict[str, str],
                   headers: dict[str, str]) -> dict[str, Any]:
        """``PUT /upload``: the image as the body, the form as the query string."""
        name = filename or (Path(image).name if isinstance(image, (str, Path)) else "image")
        headers = {**headers, "Content-Type": "application/octet-stream"}
        params = {**form, "filename": name}
        if isinstance(image, (str, Path)):
            with Path(image).open("rb") as fh:
                return self._json("PUT", "/upload", data=fh, params=params, headers=headers)
        return self._json("PUT", "/upload", data=image, params=params, headers=headers)

    def submit_many(self, paths: Iterable[str | Path], width: int | str | None = None,
                    height: int | str | None = None, *, priority: str | None = None, delay: float | str | None = None,
                    run_at: datetime | str | None = None, idempotency_key: str | None = None,
                    variants: Sequence[Mapping[str, Any]] | str | None = None, preset: str | None = None,
                    placeholder: str | None = None, callback_url: str | None = None, batch: str | None = None,
                    **options: Any) -> dict[str, Any]:
        """Upload several images as one batch (``POST /jobs``), with ``submit``'s options: all are queued,
        or none."""
        form = _form(width, height, {**options, **_scheduling(priority, delay, run_at),
                                     **_set(variants, preset, placeholder), "callbackUrl": callback_url,
                                     "batch": batch})
        headers = {IDEMPOTENCY: idempotency_key} if idempotency_key else {}
        with ExitStack() as stack:
            files = [("images", (Path(p).name, stack.enter_context(Path(p).open("rb")))) for p in paths]
            return self._json("POST", "/jobs", files=files, data=form, headers=headers)

    # --- job control -------------------------------------------------------------------------------

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job that has not ended (ApiError 409 ``not_cancellable`` otherwise); returns its record."""
        return self._json("POST", f"/jobs/{job_id}/cancel")

    def retry(self, job_id: str) -> dict[str, Any]:
        """Queue a failed or cancelled job again (409 ``not_retryable``, 410 ``input_gone``)."""
        return self._json("POST", f"/jobs/{job_id}/retry")

    # --- batches and webhooks ----------------------------------------------------------------------

    def create_batch(self, expected: int, callback_url: str | None = None) -> dict[str, Any]:
        """A batch expecting ``expected`` jobs (uploads join it with ``batch=``); ``callback_url`` gets one
        ``batch.completed`` webhook when all have ended. Returns ``{"batchId", ...}``."""
        body: dict[str, Any] = {"expected": expected}
        if callback_url:
            body["callbackUrl"] = callback_url
        return self._json("POST", "/batches", json=body)

    def batch(self, batch_id: str) -> dict[str, Any]:
        """A batch: its jobs counted by ended status, ``completedAt``, its webhook deliveries."""
        return self._json("GET", f"/batches/{batch_id}")

    def deliveries(self, job_id: str) -> list[dict[str, Any]]:
        """A job's webhook messages, each with its state and attempts (time, HTTP status, duration, error)."""
        return list(self._json("GET", f"/jobs/{job_id}/deliveries")["deliveries"])

    def redeliver(self, message_id: str) -> dict[str, Any]:
        """Send a webhook message again (a dead one, typically), with the same ``webhook-id``."""
        return self._json("POST", f"/deliveries/{message_id}/redeliver")

    # --- reading jobs ------------------------------------------------------------------------------

    def status(self, job_id: str) -> str:
        return str(self._json("GET", f"/jobs/{job_id}/status")["status"])

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{job_id}")

    def jobs(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The records of these jobs (unknown or expired ids are left out), fetched 100 at a time."""
        wanted, found = list(ids), []
        for start in range(0, len(wanted), _BATCH):
            chunk = ",".join(wanted[start:start + _BATCH])
            found += list(self._json("GET", "/jobs", params={"ids": chunk, "limit": str(_BATCH)})["jobs"])
        return found

    def list_jobs(self, status: str | None = None, limit: int = 50, tenant: str | None = None) -> list[dict[str, Any]]:
        """The caller's newest jobs (an admin's: everyone's, or ``tenant``'s), optionally in one status."""
        params = {"limit": str(limit), **({"status": status} if status else {}),
                  **({"tenant": tenant} if tenant is not None else {})}
        return list(self._json("GET", "/jobs", params=params)["jobs"])

    # --- operators ---------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters, jobs per status and the worker registry (admins)."""
        return self._json("GET", "/stats")

    def history(self, window: int = 3600) -> list[dict[str, Any]]:
        """The charts' points over the last ``window`` seconds (admins): per minute, jobs done, failed and
        cancelled, failures by reason, p50/p95 from upload to done, queue depth by priority."""
        return list(self._json("GET", "/stats/history", params={"window": str(window)})["points"])

    def scaling(self) -> dict[str, Any]:
        """The backlog an autoscaler scales workers on (admin or metrics token)."""
        return self._json("GET", "/scaling")

    def metrics(self) -> str:
        """Prometheus' text format (admin or metrics token)."""
        return self._request("GET", "/metrics").text

    def openapi(self) -> dict[str, Any]:
        """The API's OpenAPI document."""
        return self._json("GET", "/openapi.json")

    def alive(self) -> bool:
        """The API process answers (``/healthz``)."""
        return self._probe("/healthz")

    def ready(self) -> bool:
        """The API can accept uploads: its Redis answers (``/readyz``)."""
        return self._probe("/readyz")

    def _probe(self, path: str) -> bool:
        try:
            return self.session.get(f"{self.url}{path}", timeout=min(self.timeout, 5)).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return True
            time.sleep(0.5)
        return False

    def wait(self, job_id: str, timeout: float = 300.0, interval: float = 0.5) -> dict[str, Any]:
        """Poll until the job is done or failed; returns its record. TimeoutError at the deadline."""
        return self.wait_all([job_id], timeout, interval)[0]

    def wait_all(self, ids: Iterable[str], timeout: float = 300.0, interval: float = 0.5) -> list[dict[str, Any]]:
        wanted = list(ids)
        deadline = time.monotonic() + timeout
        while True:
            records = self.jobs(wanted)
            if len(records) == len(wanted) and all(r["status"] in TERMINAL for r in records):
                return records
            if time.monotonic() + interval > deadline:
                left = len(wanted) - sum(1 for r in records if r["status"] in TERMINAL)
                raise TimeoutError(f"{left} of {len(wanted)} jobs not finished after {timeout:.0f} s")
            time.sleep(interval)

    def download(self, job_id: str, dest: str | Path, name: str | None = None) -> Path:
        """Save the job's result to ``dest`` (a file, or a folder to put ``<jobId>.<ext>`` in); ``name``:
        one output of a set (``<jobId>-<name>.<ext>`` in a folder)."""
        path = f"/jobs/{job_id}/result/{name}" if name else f"/jobs/{job_id}/result"
        resp = self._request("GET", path, stream=True)
        return _save(resp, Path(dest), f"{job_id}-{name}" if name else job_id)

    def download_set(self, job_id: str, folder: str | Path) -> dict[str, Path]:
        """Save every output of a done set to ``folder``: ``{name: path}``."""
        names = [v["name"] for v in self.job(job_id).get("variants", [])]
        return {name: self.download(job_id, folder, name) for name in names}

    def stream_ticket(self) -> str:
        """A short-lived ticket for an event stream where no header can be sent (``?ticket=``)."""
        return str(self._json("POST", "/events/ticket")["ticket"])

    def me(self) -> dict[str, Any]:
        """Who the API takes this client for: ``{"tenant", "role", "authMode"}``."""
        return self._json("GET", "/me")

    # --- live events -------------------------------------------------------------------------------

    def iter_events(self, job_id: str | None = None, ids: Iterable[str] = (), batch: str | None = None,
                    summary: bool = False, read_timeout: float = 40.0) -> Iterator[Event]:
        """Follow ``/jobs/<job_id>/events`` (or ``/events``, narrowed by ``ids`` or ``batch``). The first
        event, ``open``, says the stream is established (as EventSource's ``onopen``). The server sends a
        keepalive every 15 s; ``read_timeout`` bounds a silent connection."""
        if job_id:
            path, params = f"/jobs/{job_id}/events", {}
        else:
            params = {"summary": "1" if summary else "0"}
            if ids:
                params["ids"] = ",".join(ids)
            if batch:
                params["batch"] = batch
            path = "/events"
        resp = self._request("GET", path, params=params, stream=True, timeout=(5, read_timeout))
        with resp:
            if not resp.headers.get("content-type", "").startswith("text/event-stream"):
                raise ApiError(resp.status_code, "not_an_event_stream", resp.headers.get("content-type", ""))
            yield Event("open", {})
            yield from _parse_sse(resp.iter_lines(decode_unicode=True))

    # --- plumbing ----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        resp = self.session.request(method, f"{self.url}{path}", **kwargs)
        if resp.status_code >= 400:
            raise _error(resp)
        return resp

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self._request(method, path, **kwargs).json()
        if not isinstance(body, dict):
            raise ApiError(200, "unexpected_body", f"expected a JSON object, got {type(body).__name__}")
        return body


def _save(resp: requests.Response, target: Path, job_id: str) -> Path:
    if target.is_dir():
        ext = resp.headers.get("content-type", "").rsplit("/", 1)[-1].replace("jpeg", "jpg")
        target = target / f"{job_id}.{ext or 'bin'}"
    with resp, target.open("wb") as out:
        for chunk in resp.iter_content(1 << 16):
            out.write(chunk)
    return target


def _scheduling(priority: str | None, delay: float | str | None, run_at: datetime | str | None) -> dict[str, Any]:
    when = run_at.isoformat() if isinstance(run_at, datetime) else run_at
    return {"priority": priority, "delay": delay, "runAt": when}


def _set(variants: Sequence[Mapping[str, Any]] | str | None, preset: str | None,
         placeholder: str | None) -> dict[str, Any]:
    listed = variants if variants is None or isinstance(variants, str) else json.dumps([dict(v) for v in variants])
    return {"variants": listed, "preset": preset, "placeholder": placeholder}


def _form(width: int | str | None, height: int | str | None, options: dict[str, Any]) -> dict[str, str]:
    form = {"width": width, "height": height, **options}
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in form.items() if v is not None}


def _error(resp: requests.Response) -> ApiError:
    retry = resp.headers.get("Retry-After", "")
    retry_after = float(retry) if retry.isdigit() else None
    try:
        err = resp.json()["error"]
        return error_for(resp.status_code, str(err["code"]), str(err["message"]), err, retry_after)
    except (ValueError, KeyError, TypeError):
        return error_for(resp.status_code, "http_error", resp.text[:200], None, retry_after)


def _parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    name, data = "message", ""
    for line in lines:
        if line == "":
            if data:
                yield Event(name, json.loads(data))
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
