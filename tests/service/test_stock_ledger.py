"""The stock ledger (service/stock.py) against an independent model of what stock
should be, over random sequences of movements: every movement the model allows is
accepted and every other one refused with nothing written; the levels never go
negative nor below what is reserved, and they always equal the ledger's sums."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_world import AT_MS, service_world
from sqlalchemy import Engine
from sqlmodel import Session, select

from foundations.database import session_scope
from service import stock
from service.cases import open_case
from service.replenishment import set_threshold
from service.stock_tables import ReplenishmentRequest, StockLevel, StockLocation, StockMovement
from service.tables import Engineer

PARTS = ("P-1", "P-2")
LOCATIONS = ("wh-a", "wh-b", "van-eve")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = service_world(Path(tmp_path_factory.mktemp("ledger")))
    with session_scope(engine) as s:
        s.add(StockLocation(id="wh-a", kind="warehouse", name="A", lat=48.1, lon=11.5))
        s.add(StockLocation(id="wh-b", kind="warehouse", name="B", lat=48.2, lon=11.6))
        eve = s.get(Engineer, "eve")
        assert eve is not None
        stock.ensure_van(s, eve)
        for _ in range(2):
            open_case(s, device_id="dev-standard", source="api", title="leak", skill="x",
                      duration_min=30, priority=3, at=AT_MS)
    yield engine
    engine.dispose()


moves = st.lists(st.tuples(
    st.sampled_from(("receipt", "transfer", "reserve", "release", "consume", "return")),
    st.sampled_from(PARTS), st.integers(1, 6), st.sampled_from(LOCATIONS),
    st.sampled_from(LOCATIONS), st.sampled_from((1, 2))), max_size=40)


class Model:
    """What the stock should be, computed without the ledger's code."""

    def __init__(self) -> None:
        self.on_hand: dict[tuple[str, str], int] = defaultdict(int)
        self.reserved: dict[tuple[str, str], int] = defaultdict(int)
        self.held: dict[tuple[int, str, str], int] = defaultdict(int)

    def apply(self, kind: str, part: str, qty: int, src: str, dst: str, wo: int) -> bool:
        """Apply if allowed; whether it was."""
        s, d = (src, part), (dst, part)
        free = self.on_hand[s] - self.reserved[s]
        held = self.held[(wo, src, part)]
        if kind == "receipt":
            if not dst.startswith("wh-"):
                return False
            self.on_hand[d] += qty
        elif kind == "return":
            self.on_hand[d] += qty
        elif kind == "transfer":
            if src == dst or free < qty:
                return False
            self.on_hand[s] -= qty
            self.on_hand[d] += qty
        elif kind == "reserve":
            if free < qty:
                return False
            self.reserved[s] += qty
            self.held[(wo, src, part)] += qty
        elif kind == "release":
            if held < qty:
                return False
            self.reserved[s] -= qty
            self.held[(wo, src, part)] -= qty
        else:  # consume: its own reservation first
            own = min(held, qty)
            if free + own < qty:
                return False
            self.reserved[s] -= own
            self.held[(wo, src, part)] -= own
            self.on_hand[s] -= qty
        return True


def _levels(session: Session) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r.location_id, r.part_number): (r.on_hand, r.reserved)
            for r in session.exec(select(StockLevel)) if r.on_hand or r.reserved}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=moves)
def test_random_movements_keep_the_ledger_balanced(engine: Engine, sequence: list[
        tuple[str, str, int, str, str, int]]) -> None:
    model = Model()
    with Session(engine) as session:  # never committed: each example starts empty
        for step, (kind, part, qty, src, dst, wo) in enumerate(sequence):
            before = _levels(session)
            written = len(session.exec(select(StockMovement.id)).all())
            allowed = model.apply(kind, part, qty, src, dst, wo)
            where = {"from_location": src} if kind in (
                "transfer", "reserve", "release", "consume") else {}
            if kind in ("receipt", "transfer", "return"):
                where["to_location"] = dst
            try:
                stock.move(session, kind, part, qty, at=AT_MS + step, by="test",
                           known_parts=PARTS, work_order_id=wo if kind in (
                               "reserve", "release", "consume", "return") else None,
                           **where)
                accepted = True
            except stock.StockError:
                accepted = False
                assert _levels(session) == before, "a refused movement changed stock"
                assert len(session.exec(select(StockMovement.id)).all()) == written
            assert accepted == allowed, (step, kind, part, qty, src, dst, wo)
            levels = _levels(session)
            want = {key: (model.on_hand[key], model.reserved[key])
                    for key in set(model.on_hand) | set(model.reserved)
                    if model.on_hand[key] or model.reserved[key]}
            assert levels == want
            assert all(0 <= reserved <= on_hand for on_hand, reserved in levels.values())
            assert stock.reconcile(session) == []
            for order in (1, 2):
                assert stock.outstanding(session, order) == {
                    (loc, p): n for (o, loc, p), n in model.held.items() if o == order and n}
        session.rollback()


def test_reconcile_finds_a_level_changed_behind_the_ledgers_back(engine: Engine) -> None:
    with Session(engine) as session:
        stock.move(session, "receipt", "P-1", 5, at=AT_MS, by="t", known_parts=PARTS,
                   to_location="wh-a")
        row = session.get(StockLevel, ("wh-a", "P-1"))
        assert row is not None
        row.on_hand = 7  # a bare overwrite, as the ledger forbids
        session.add(row)
        session.flush()
        assert stock.reconcile(session) == [
            "wh-a P-1: level on hand/reserved (7, 0), ledger (5, 0)"]
        session.rollback()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "receipt", "part": "NOPE", "qty": 1, "to_location": "wh-a"},
     "not in the parts catalogue"),
    ({"kind": "receipt", "part": "P-1", "qty": 0, "to_location": "wh-a"}, "qty"),
    ({"kind": "receipt", "part": "P-1", "qty": 1, "to_location": "van-eve"},
     "received at a warehouse"),
    ({"kind": "receipt", "part": "P-1", "qty": 1, "to_location": "wh-x"},
     "no stock location 'wh-x'"),
    ({"kind": "transfer", "part": "P-1", "qty": 1, "to_location": "wh-a"},
     "needs from_location and to_location"),
    ({"kind": "reserve", "part": "P-1", "qty": 1, "from_location": "wh-a"},
     "give work_order_id"),
    ({"kind": "shrink", "part": "P-1", "qty": 1, "from_location": "wh-a"}, "kind: one of"),
])
def test_bad_movements_are_refused_with_the_reason(engine: Engine, kwargs: dict[str, object],
                                                   message: str) -> None:
    with Session(engine) as session:
        kind, part, qty = kwargs.pop("kind"), kwargs.pop("part"), kwargs.pop("qty")
        with pytest.raises(stock.StockError, match=message):
            stock.move(session, str(kind), str(part), qty, at=AT_MS,  # type: ignore[arg-type]
                       by="t", known_parts=PARTS, **kwargs)  # type: ignore[arg-type]
        session.rollback()


def test_low_stock_raises_one_replenishment_request_until_restocked(engine: Engine) -> None:
    with Session(engine) as session:
        stock.move(session, "receipt", "P-2", 4, at=AT_MS, by="t", known_parts=PARTS,
                   to_location="wh-a")
        stock.move(session, "transfer", "P-2", 3, at=AT_MS, by="t", known_parts=PARTS,
                   from_location="wh-a", to_location="van-eve")
        van = stock.level(session, "van-eve", "P-2", AT_MS)
        set_threshold(session, van, min_qty=2, reorder_qty=4, at=AT_MS)

        def requests() -> list[tuple[str, int]]:
            return [(r.status, r.qty) for r in session.exec(select(ReplenishmentRequest).where(
                ReplenishmentRequest.location_id == "van-eve"))]

        assert requests() == []
        stock.move(session, "reserve", "P-2", 2, at=AT_MS, by="t", known_parts=PARTS,
                   from_location="van-eve", work_order_id=1)
        assert requests() == [("open", 4)]  # 1 free below 2
        stock.move(session, "consume", "P-2", 2, at=AT_MS, by="t", known_parts=PARTS,
                   from_location="van-eve", work_order_id=1)
        assert requests() == [("open", 4)]  # still low: one request, not two
        stock.move(session, "transfer", "P-2", 1, at=AT_MS, by="t", known_parts=PARTS,
                   from_location="wh-a", to_location="van-eve")
        assert requests() == [("fulfilled", 4)]
        session.rollback()
