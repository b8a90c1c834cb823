"""Spare parts as model data: the built-in models name their parts and what each rule,
plan and fault needs; a broken parts section is refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from asset_registry.catalog import CatalogError, load_models
from asset_registry.parts import PartNeed

BASE = """
id = "m"
name = "M"
category = "pump"
service_skill = "s"
service_minutes = 30
labour_per_hour = 80.5
[attributes.rpm]
label = "Speed"
unit = "rpm"
min = 0
max = 3000
[[rules]]
id = "r"
metric = "rpm"
condition = "above"
threshold = 100
clear = 90
severity = "high"
message = "fast"
[[maintenance]]
id = "yearly"
title = "Yearly"
every_months = 12
lead_days = 7
[[parts]]
number = "X-1"
name = "Seal"
price = 12.34
"""


def _load(tmp_path: Path, extra: str, name: str = "m.toml") -> None:
    path = tmp_path / name
    path.write_text(BASE + extra)
    load_models([path])


def test_builtin_models_need_only_their_own_parts() -> None:
    models = load_models()
    purifier = models["aquapure-ro500"]
    assert purifier.parts.parts["AP-MEM-75G"].name == "RO membrane 75G"
    assert purifier.parts.parts["AP-MEM-75G"].price_cents == 8900
    assert purifier.parts.needed_for("rule", "tds-high") == (PartNeed("AP-MEM-75G", 1),)
    assert purifier.parts.parts["AP-FILT-KIT"].consumable == "RO membrane filter kit"
    plan = next(p for p in purifier.maintenance if p.id == "filter-change")
    assert [n.part for n in plan.parts] == ["AP-FILT-KIT", "AP-PREF-10"]
    for model in models.values():
        assert model.parts.labour_cents_per_hour > 0
        for needs in model.parts.needs.values():
            assert all(n.part in model.parts.parts for n in needs)


def test_a_valid_parts_section_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(BASE + '[parts_needed]\n"rule:r" = [{part = "X-1", qty = 2}]\n'
                    '"fault:Leak" = [{part = "X-1"}]\n')
    model = load_models([path])["m"]
    assert model.parts.labour_cents_per_hour == 8050
    assert model.parts.parts["X-1"].price_cents == 1234
    assert model.parts.needed_for("rule", "r") == (PartNeed("X-1", 2),)
    assert model.parts.needed_for("fault", "Leak") == (PartNeed("X-1", 1),)


@pytest.mark.parametrize(("extra", "message"), [
    ('[parts_needed]\n"rule:nope" = [{part = "X-1"}]\n', r"parts_needed.'rule:nope'"),
    ('[parts_needed]\n"fault:Smell" = [{part = "X-1"}]\n', "fault:<category>"),
    ('[parts_needed]\n"rule:r" = [{part = "Y-9"}]\n', "unknown part 'Y-9'"),
    ('[parts_needed]\n"rule:r" = [{part = "X-1", qty = 0}]\n', r"qty: a whole number"),
    ('[parts_needed]\n"rule:r" = []\n', "expected a list"),
    ('[[parts]]\nnumber = "X-1"\nname = "Again"\nprice = 1\n', "duplicate part number"),
    ('[[parts]]\nnumber = "X-2"\nname = "Free"\nprice = -1\n', r"price: a price >= 0"),
    ('[[parts]]\nnumber = "X-2"\nname = "Kit"\nprice = 1\nconsumable = "Kit"\n',
     "not one of the model's"),
])
def test_a_broken_parts_section_names_the_field(tmp_path: Path, extra: str,
                                                message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        _load(tmp_path, extra)


def test_one_part_number_means_one_part_across_models(tmp_path: Path) -> None:
    first = tmp_path / "a.toml"
    first.write_text(BASE)
    second = tmp_path / "b.toml"
    second.write_text(BASE.replace('id = "m"', 'id = "n"').replace("12.34", "13"))
    with pytest.raises(CatalogError, match="part X-1: described differently"):
        load_models([first, second])
