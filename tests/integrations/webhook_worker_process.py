"""`python webhook_worker_process.py DB_URL [CHANGES]`: FieldPulse's webhook dispatcher
alone in a process, with short retries, until it is killed (the crash tests kill it
with SIGKILL). With CHANGES, the process first commits that many changes itself."""

from __future__ import annotations

import sys
import threading

from change_maker import ChangeMaker
from webhook_receiver import RECEIVERS_ALLOWED

from foundations.database import make_engine
from foundations.workers import Supervisor
from integrations.webhooks.policy import RetryPolicy
from integrations.webhooks.worker import WebhookWorker
from simulators.fleet import generate_fleet


def main(db_url: str, changes: int) -> None:
    engine = make_engine(db_url)
    worker = WebhookWorker(engine, period_s=0.02, gap_wait_s=0.5, targets=RECEIVERS_ALLOWED,
                           policy=RetryPolicy(max_attempts=1000, base_s=0.01, cap_s=0.2,
                                              timeout_s=60.0))
    Supervisor([worker]).start()
    print("ready", flush=True)
    if changes:
        ChangeMaker(engine, generate_fleet(seed=11, sites=6), seed=99, prefix="child"
                    ).make(changes)
        print("committed", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
