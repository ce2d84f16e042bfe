"""Operations of batches and webhook deliveries, and the webhooks themselves (OpenAPI 3.1 ``webhooks``)."""

from __future__ import annotations

from typing import Any

from imgqueue.outbound import MAX_URL_LENGTH
from imgqueue.status import BATCH_COMPLETED, EVENTS

from . import examples as ex
from .fields import BATCH_ID, JOB_ID, MESSAGE_ID
from .model import JSON, Body, Ok, Operation, Schema, ref

_SIGNED = ("Signed as the Standard Webhooks specification says: headers `webhook-id` (the same on every attempt: "
           "drop repeats), `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of "
           "`<id>.<timestamp>.<body>` under the secret; two while a rotated secret's grace period lasts). Verify "
           "with the `standardwebhooks` package or `imgqueue_client.verify_webhook`. Answer 2xx: anything else, or "
           "no answer within WEBHOOK_TIMEOUT, is retried with backoff for WEBHOOK_MAX_AGE.")

CREATE_BATCH = Operation(
    endpoint="batches.create_batch", id="createBatch", tag="jobs", summary="Announce a batch of jobs",
    description="A batch expecting `expected` jobs: uploads join it with the form field `batch`. When every one "
                "of them has ended (done, failed or cancelled), one `batch.completed` event on the stream and one "
                "webhook to `callbackUrl` (or the tenant's endpoint) carry the counts. More uploads than it "
                "expects answer 409 `batch_full`.",
    ok=Ok(201, "the batch", ref("BatchRecord"), ex.batch_record(completed=False)),
    errors=("invalid_body", "invalid_parameter", "invalid_callback_url", "webhooks_not_configured", "store_full"),
    body=Body({"type": "object", "required": ["expected"],
               "properties": {"expected": {"type": "integer", "minimum": 1},
                              "callbackUrl": {"type": ["string", "null"], "maxLength": MAX_URL_LENGTH,
                                              "description": "told (batch.completed) when all have ended"}}},
              {"fifty photos": {"expected": 50, "callbackUrl": ex.HOOK}}, media=JSON),
    python=f'batch = client.create_batch(50, callback_url="{ex.HOOK}")\n'
           'for path in photos:\n    client.submit(path, 800, batch=batch["batchId"])',
    curl=("-H 'Content-Type: application/json'", f"-d '{{\"expected\": 50, \"callbackUrl\": \"{ex.HOOK}\"}}'"))

GET_BATCH = Operation(
    endpoint="batches.get_batch", id="getBatch", tag="jobs", summary="A batch: its jobs counted by how they ended",
    description="How many jobs it expects, how many have joined and ended (by status), when it completed, and its "
                "webhook deliveries. Owned like jobs: another tenant's batch is unknown (404).",
    ok=Ok(200, "the batch", ref("BatchRecord"), ex.batch_record()), errors=("batch_not_found",),
    params=(BATCH_ID,), path_example={"batch_id": ex.BATCH}, python=f'client.batch("{ex.BATCH}")')

JOB_DELIVERIES = Operation(
    endpoint="batches.job_deliveries", id="getJobDeliveries", tag="jobs",
    summary="A job's webhook messages and their attempts",
    description="Each message about the job (one per time it ended), oldest first: its state (pending, "
                "delivered, dead) and its attempts (time, the receiver's HTTP status, duration, error).",
    ok=Ok(200, "the messages", ref("DeliveryList"), {"deliveries": [ex.delivery()]}), errors=("job_not_found",),
    params=(JOB_ID,), path_example={"job_id": ex.JOB_ID}, python=f'client.deliveries("{ex.JOB_ID}")')

REDELIVER = Operation(
    endpoint="batches.redeliver", id="redeliver", tag="jobs", summary="Send a webhook message again",
    description="A message (a dead one, typically, once its receiver is fixed) pending again and due now, with the "
                "same `webhook-id` and body; its retries start over.",
    ok=Ok(202, "pending again", ref("Delivery"), ex.delivery("pending")), errors=("delivery_not_found",),
    params=(MESSAGE_ID,), path_example={"message_id": ex.MESSAGE_ID}, python=f'client.redeliver("{ex.MESSAGE_ID}")')

OPERATIONS = (CREATE_BATCH, GET_BATCH, JOB_DELIVERIES, REDELIVER)


def webhooks() -> dict[str, Schema]:
    """What imgqueue posts to a callbackUrl or a tenant's endpoint, one entry per event."""
    out: dict[str, Schema] = {}
    for event in (*EVENTS.values(), BATCH_COMPLETED):
        what = "every job a batch expects has ended" if event == BATCH_COMPLETED else f"a job {event.split('.')[1]}"
        out[event] = {"post": {
            "summary": f"{event}: {what}",
            "description": _SIGNED, "operationId": f"webhook_{event.replace('.', '_')}",
            "parameters": _headers(),
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("WebhookPayload"),
                                                                 "example": ex.webhook(event)}}},
            "responses": {"2XX": {"description": "received (any other answer is retried)"}}}}
    return out


def _headers() -> list[dict[str, Any]]:
    return [{"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"},
             "example": ex.MESSAGE_ID},
            {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string"},
             "example": "1796212801"},
            {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"},
             "example": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="}]
