"""What a visit costs by the customer's coverage, in whole cents."""

from __future__ import annotations

import pytest

from asset_registry.parts import Part
from service.pricing import billed_minutes, money, price

MEMBRANE = Part("AP-MEM-75G", "RO membrane 75G", 8900)
FILTER = Part("AP-PREF-10", "Sediment pre-filter 10in", 1450)


@pytest.mark.parametrize(("coverage", "totals"), [
    ("chargeable", [8900, 2900, 12750]),  # 90 min at 85.00/h
    ("service_contract", [8900, 2900, 0]),  # labour covered
    ("warranty", [0, 0, 0]),
])
def test_coverage_decides_who_pays_what(coverage: str, totals: list[int]) -> None:
    lines = price(coverage, [(MEMBRANE, 1), (FILTER, 2)], 80, 8500)
    assert [line.total_cents for line in lines] == totals
    assert [line.covered for line in lines] == [t == 0 for t in totals]
    assert lines[-1].description == "Labour, 90 min" and lines[-1].unit_cents == 12750


def test_labour_is_billed_per_started_quarter_hour() -> None:
    assert [billed_minutes(m) for m in (1, 15, 16, 45, 46)] == [15, 15, 30, 45, 60]
    assert price("chargeable", [], 0, 8500) == ()  # no labour, no line
    assert money(20300) == "EUR 203.00" and money(123456789) == "EUR 1,234,567.89"


def test_an_unknown_coverage_is_refused() -> None:
    with pytest.raises(ValueError, match="coverage: one of"):
        price("free", [], 10, 8500)
