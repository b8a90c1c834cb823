"""A command's status transitions, as a pure function."""

from __future__ import annotations

import itertools

import pytest

from commands import states
from commands.states import TransitionError, can_move, move

ALLOWED = {
    ("queued", "sent"), ("queued", "expired"),
    ("sent", "delivered"), ("sent", "succeeded"), ("sent", "failed"), ("sent", "expired"),
    ("delivered", "succeeded"), ("delivered", "failed"), ("delivered", "expired"),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(states.STATUSES, repeat=2)))
def test_exactly_the_documented_transitions_are_allowed(current: str, new: str) -> None:
    allowed = (current, new) in ALLOWED
    assert can_move(current, new) is allowed
    if allowed:
        assert move(current, new) == new
    else:
        with pytest.raises(TransitionError, match=f"a {current} command cannot become {new}"):
            move(current, new)


def test_every_non_final_status_can_expire_and_final_ones_never_change() -> None:
    for status in states.STATUSES:
        assert can_move(status, "expired") is (not states.is_final(status))
        if states.is_final(status):
            assert not any(can_move(status, other) for other in states.STATUSES)


def test_an_unknown_status_is_named() -> None:
    with pytest.raises(TransitionError, match="unknown status: 'running'"):
        move("running", "sent")
