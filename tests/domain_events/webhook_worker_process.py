"""`python webhook_worker_process.py DB_URL`: the webhook dispatcher alone in a process,
with short retries, until it is killed (the crash tests kill it with SIGKILL)."""

from __future__ import annotations

import sys
import threading

from asset_registry.database import make_engine
from portal.webhooks.policy import RetryPolicy
from portal.webhooks.worker import WebhookWorker


def main(db_url: str) -> None:
    worker = WebhookWorker(make_engine(db_url), period_s=0.02, gap_wait_s=0.5,
                           policy=RetryPolicy(max_attempts=1000, base_s=0.01, cap_s=0.2,
                                              timeout_s=60.0))
    worker.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1])
