"""Test modules are imported by their file name (pytest's default import mode, no
packages under tests/): two test files with one name in two folders stop the whole
run at collection. Each name once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).parent


def test_every_test_module_has_a_name_of_its_own() -> None:
    names = Counter(p.name for p in TESTS.rglob("*.py")
                    if p.name != "conftest.py" and ".venv" not in p.parts)
    assert [name for name, n in names.items() if n > 1] == []
