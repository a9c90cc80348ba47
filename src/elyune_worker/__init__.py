"""``elyune worker``: the third entry point beside the HTTP API and the CLI.

It takes pipeline steps from the Redis queue (the queue adapter's taskiq broker) and
runs them with the same use cases, through the same container, as the other two.
"""

from elyune_worker.runtime import run_worker, worker_settings

__all__ = ["run_worker", "worker_settings"]
