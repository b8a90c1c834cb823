"""The one error type of the rules component."""

from __future__ import annotations


class AlertError(ValueError):
    """An action on an alert or a rule set that cannot be done; the message says why."""
