"""A message taken off one queue, published again into another as its producer sent it.

Used where the deployment moves tasks between queues by hand (celery_stack.dead_letters'
requeue, celery_stack.migrate_queues): body, headers and properties go as they are (a task
with a countdown keeps its ETA), but for the headers the broker added on the way out.
"""

from __future__ import annotations

# What a message carries besides its body and headers, copied as it is.
PROPERTIES = ("content_type", "content_encoding", "correlation_id", "reply_to", "priority",
              "message_id", "expiration", "timestamp", "type", "user_id", "app_id")
# Headers the broker adds on its way out, not the producer's.
BROKER_HEADERS = ("x-delivery-count",)


def republish(producer, message, queue: str) -> None:
    """Publish `message` into `queue` through the default exchange (persistent). With the
    deployment's confirm_publish it returns once the broker has it: only then may the
    caller acknowledge the original."""
    properties = {key: message.properties[key] for key in PROPERTIES if message.properties.get(key) is not None}
    headers = {key: value for key, value in (message.headers or {}).items() if key not in BROKER_HEADERS}
    producer.publish(message.body, exchange="", routing_key=queue, headers=headers, delivery_mode=2,
                     retry=True, **properties)
