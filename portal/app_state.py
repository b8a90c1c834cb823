"""Objects an app keeps for all its requests (the live hub, the device-list cache), made
on the first request that needs one, and only once when first requests race."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_lock = threading.Lock()


def app_singleton(state: Any, key: str, make: Callable[[], T]) -> T:
    """`state.<key>` (an app's `app.state`), made by `make` if the app has none yet."""
    found: T | None = getattr(state, key, None)
    if found is None:
        with _lock:
            found = getattr(state, key, None)
            if found is None:
                found = make()
                setattr(state, key, found)
    return found
