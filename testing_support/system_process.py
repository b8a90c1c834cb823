"""`python -m fieldpulse.system ...` as a child process that tests kill and restart:
its output goes to a log file (read by the tests), and the checkout is on its path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Self

from foundations.processes import terminate

ROOT = Path(__file__).resolve().parents[1]


class SystemProcess:
    def __init__(self, args: list[str], log: Path) -> None:
        self.args = [sys.executable, "-m", "fieldpulse.system", *args]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=ROOT, env=env)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        terminate(self.process, timeout_s=20)
