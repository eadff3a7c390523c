"""Settings as a project of Celery 5.0's days writes them, before quorum queues."""

import os

broker_url = os.environ.get("CELERY_BROKER_URL", "amqp://localhost//")
result_backend = "rpc://"
imports = ("shipyard.tasks.packing", "shipyard.tasks.billing")
task_serializer = "json"
result_expires = 3600
# What the deployment must overrule for its guarantees to hold.
task_default_queue_type = "classic"
task_acks_late = False
worker_prefetch_multiplier = 4
broker_transport_options = {"max_retries": 10}
