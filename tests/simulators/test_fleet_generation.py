import json
import re
from dataclasses import replace

import pytest

from simulators.fleet import MUNICH, City, Fleet, distance_km, generate_fleet
from simulators.profiles import SimulatorError, builtin_profiles


def test_same_seed_gives_the_same_fleet_and_another_seed_a_different_one():
    assert generate_fleet(seed=3) == generate_fleet(seed=3)
    assert generate_fleet(seed=3) != generate_fleet(seed=4)


def test_fleet_survives_a_json_round_trip(fleet):
    text = json.dumps(fleet.to_dict(), ensure_ascii=False)
    assert Fleet.from_dict(json.loads(text)) == fleet


def test_every_device_model_is_in_the_catalogue_and_every_model_is_used(fleet, models):
    used = {d.model_id for d in fleet.devices}
    assert used <= set(models)
    assert used == set(builtin_profiles())


def test_one_gateway_per_site_each_with_one_to_four_devices(fleet):
    assert [g.site_id for g in fleet.gateways] == [s.id for s in fleet.sites]
    for gateway in fleet.gateways:
        devices = fleet.devices_of(gateway.id)
        assert 1 <= len(devices) <= 4
        assert all(d.site_id == gateway.site_id for d in devices)
    assert fleet.site(fleet.gateways[0].site_id).id == fleet.gateways[0].site_id


def test_ids_and_serials_follow_their_formats(fleet):
    assert [g.id for g in fleet.gateways][:2] == ["gw-001", "gw-002"]
    assert [d.id for d in fleet.devices][:2] == ["dev-0001", "dev-0002"]
    assert len({d.serial for d in fleet.devices}) == len(fleet.devices)
    for device in fleet.devices:
        prefix = builtin_profiles()[device.model_id].serial_prefix
        assert re.fullmatch(re.escape(prefix) + r"-\d\d-\d{6}", device.serial)
    for customer in fleet.customers:
        assert re.fullmatch(r"[a-z0-9.-]+@[a-z0-9-]+\.example\.com", customer.contact_email)


@pytest.mark.parametrize("city", [MUNICH, City("Graz", 47.0707, 15.4395, 4.0, "Europe/Vienna")])
def test_sites_and_engineer_homes_lie_within_the_city_radius(city):
    fleet = generate_fleet(seed=11, sites=40, city=city)
    points = [(s.lat, s.lon) for s in fleet.sites]
    points += [(e.home_lat, e.home_lon) for e in fleet.engineers]
    for lat, lon in points:
        assert distance_km(city.lat, city.lon, lat, lon) <= city.radius_km


def test_sites_have_street_addresses_and_customers_own_several(fleet):
    for site in fleet.sites:
        assert re.fullmatch(r".+ \d{1,3}, Munich", site.address)
    owners = [s.customer_id for s in fleet.sites]
    assert set(owners) == {c.id for c in fleet.customers}
    assert len(set(owners)) < len(owners)


@pytest.mark.parametrize("seed", range(10))
def test_workforce_covers_every_skill_with_overlap(seed, models):
    fleet = generate_fleet(seed=seed)
    skills = {m.service_skill for m in models.values()}
    assert [e.id for e in fleet.engineers] == [f"eng-{i:02d}" for i in range(1, 6)]
    assert {s for e in fleet.engineers for s in e.skills} == skills
    assert any(len(e.skills) > 1 for e in fleet.engineers)
    assert len({(e.shift_start, e.shift_end) for e in fleet.engineers}) > 1
    for e in fleet.engineers:
        assert re.fullmatch(r"\d\d:\d\d", e.shift_start) and e.shift_start < e.shift_end


def test_fleet_refuses_a_device_on_another_sites_gateway(fleet):
    device = replace(fleet.devices[0], gateway_id="gw-999")
    with pytest.raises(SimulatorError, match="gateway"):
        replace(fleet, devices=(device, *fleet.devices[1:]))
