"""The delivery window alone: bounded in batches and bytes, overdue batches let go."""

from __future__ import annotations

from edge_agent.delivery_window import DeliveryWindow


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_window_is_full_by_count_or_by_bytes() -> None:
    window = DeliveryWindow(max_batches=3, max_bytes=1000, timeout_s=5)
    assert window.room() == 3 and not window.full()
    window.add(1, 100)
    window.add(2, 100)
    assert window.room() == 1
    window.add(3, 100)
    assert window.full() and window.room() == 0
    assert window.discard(2) and not window.discard(2)
    assert window.room() == 1 and window.bytes == 200
    window.add(4, 900)  # past the byte bound
    assert window.full() and window.room() == 0


def test_an_empty_window_takes_one_batch_however_large() -> None:
    window = DeliveryWindow(max_batches=3, max_bytes=10, timeout_s=5)
    assert window.room() == 3
    window.add(1, 10_000)
    assert window.full()


def test_overdue_batches_leave_the_window_to_be_sent_again() -> None:
    clock = Clock()
    window = DeliveryWindow(max_batches=8, max_bytes=10_000, timeout_s=5, clock=clock)
    window.add(1, 10)
    clock.now = 3
    window.add(2, 10)
    assert window.overdue() == []
    clock.now = 5
    assert window.overdue() == [1]
    assert window.seqs() == {2} and window.bytes == 10
    clock.now = 8
    assert window.overdue() == [2] and len(window) == 0
