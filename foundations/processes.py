"""Child processes FieldPulse starts (a broker, throwaway databases) and their ports."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    """Return once something accepts connections on 127.0.0.1:`port`; raise
    TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing is listening on 127.0.0.1:{port} after {timeout_s:g} s")


def terminate(process: subprocess.Popen[bytes] | None, timeout_s: float = 10.0) -> None:
    """SIGTERM, wait up to `timeout_s`, then SIGKILL: a clean stop that cannot hang."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def kill(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL, as a crash or a power cut would end it."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
