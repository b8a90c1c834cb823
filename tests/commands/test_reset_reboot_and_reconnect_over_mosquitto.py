"""The control commands on a live simulated gateway over a real Mosquitto: a reset clears
a latched fault (the readings return to normal) and is refused to an engineer; a reboot
is answered, the gateway comes back and runs the next command; a gateway that was online,
dropped and came back gets the command held for it meanwhile, once."""

from __future__ import annotations

from pathlib import Path

import httpx
from command_support import MODELS, gateway_running
from test_commands_over_mosquitto import send, status_of, steps, until_status

from edge_agent.agent import EdgeAgent
from foundations.clock import now_ms
from foundations.database import session_scope
from service.cases import open_case
from simulators.faults import Fault
from simulators.profiles import builtin_profiles
from simulators.signals import DeviceSimulator
from support import RunningCloud, make_account, wait_until


def _faulty_device(cloud: RunningCloud) -> tuple[str, str, str]:
    """(gateway, device, fault kind): the last gateway's first device that can have an
    equipment fault (the other command tests use the first gateways)."""
    gateway = cloud.fleet.gateways[-1]
    for device in cloud.fleet.devices_of(gateway.id):
        kinds = builtin_profiles()[device.model_id].faults
        if kinds:
            return gateway.id, device.id, sorted(kinds)[0]
    raise AssertionError(f"{gateway.id} has no device that can have a fault")


def test_a_dispatcher_resets_a_latched_fault_and_an_engineer_is_refused(
        cloud: RunningCloud, tmp_path: Path) -> None:
    gateway_id, device_id, kind = _faulty_device(cloud)
    model_id = next(d.model_id for d in cloud.fleet.devices if d.id == device_id)
    spec = builtin_profiles()[model_id].faults[kind]
    # Latched: started an hour ago (fully ramped), and would last another day.
    fault = Fault("flt-reset", device_id, kind, now_ms() - 3_600_000, 25 * 3_600_000,
                  spec.metric, spec.rule_id)
    normal = DeviceSimulator(device_id, MODELS[model_id], 1).normal(spec.metric)

    def off_normal(value: float) -> bool:
        """Nearer the fault's target than the device's normal level."""
        return abs(value - spec.target) < abs(value - normal)

    dispatcher = make_account(cloud.system.engine, "dispatcher")
    engineer_id = cloud.fleet.engineers[0].id
    with session_scope(cloud.system.engine) as session:
        _, order = open_case(session, device_id=device_id, source="alert", title="reset job",
                             skill="refrigeration", duration_min=30, priority=3)
        order.engineer_id, order.status = engineer_id, "en_route"  # their own job's device
        session.add(order)
    engineer = make_account(cloud.system.engine, "engineer", engineer_id=engineer_id)
    # What the console offers each: the engineer the read-only diagnostics only.
    for who, may_reset in ((engineer, False), (dispatcher, True)):
        specs = httpx.get(f"{cloud.base_url}/api/devices/{device_id}/command-specs",
                          headers=who.headers, timeout=10).json()
        allowed = {s["name"]: s["allowed"] for s in specs}
        assert allowed["read_now"] and allowed["stream"]
        assert allowed["reset_fault"] is may_reset and allowed["reboot"] is may_reset

    def read() -> float:
        created = send(cloud, dispatcher, device_id, "read_now", {"metrics": [spec.metric]})
        assert created.status_code == 201, created.text
        done = until_status(cloud, created.json()["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        return float(done["result"]["values"][spec.metric])

    with gateway_running(cloud, gateway_id, tmp_path / "edge", faults=[fault]):
        wait_until(lambda: gateway_id in cloud.system.command_link.online_gateways(),
                   what="the command link to see the gateway online")
        assert off_normal(read())

        refused = send(cloud, engineer, device_id, "reset_fault", {})
        assert refused.status_code == 403, refused.text
        assert "only dispatchers and admins" in refused.json()["detail"]
        assert off_normal(read())  # the refusal changed nothing on the device

        created = send(cloud, dispatcher, device_id, "reset_fault", {})
        assert created.status_code == 201, created.text
        done = until_status(cloud, created.json()["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        assert steps(done) == ["queued", "sent", "delivered", "succeeded"]
        assert done["result"] == {"dev": device_id, "cleared": ["flt-reset"]}
        assert not off_normal(read())

        # Nothing latched any more: a second reset clears nothing.
        again = send(cloud, dispatcher, device_id, "reset_fault", {}).json()
        assert until_status(cloud, again["id"], "succeeded")["result"]["cleared"] == []


def test_a_rebooted_gateway_comes_back_and_runs_the_next_command(
        cloud: RunningCloud, tmp_path: Path) -> None:
    gateway = cloud.fleet.gateways[-1]
    device = cloud.fleet.devices_of(gateway.id)[0]
    metric = sorted(MODELS[device.model_id].attributes)[0]
    dispatcher = make_account(cloud.system.engine, "dispatcher")
    started: list[EdgeAgent] = []
    with gateway_running(cloud, gateway.id, tmp_path / "edge", started=started):
        wait_until(lambda: gateway.id in cloud.system.command_link.online_gateways(),
                   what="the command link to see the gateway online")
        rebooted = send(cloud, dispatcher, device.id, "reboot", {}).json()
        done = until_status(cloud, rebooted["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        assert done["result"] == {"rebooting": True}
        wait_until(lambda: len(started) == 2, what="the gateway to start again")
        assert started[0].reboot_requested and not started[1].reboot_requested
        wait_until(started[1].connected.is_set, what="the rebooted gateway to connect")
        # The answer was kept across the reboot: the new agent would not run it again.
        assert started[1].remote.log.get(rebooted["id"]) is not None
        read = send(cloud, dispatcher, device.id, "read_now", {"metrics": [metric]}).json()
        assert until_status(cloud, read["id"], "succeeded", "failed")["status"] == "succeeded"


def test_a_gateway_that_dropped_gets_the_command_held_meanwhile_when_it_comes_back(
        cloud: RunningCloud, tmp_path: Path) -> None:
    gateway = cloud.fleet.gateways[-1]
    device = cloud.fleet.devices_of(gateway.id)[0]
    dispatcher = make_account(cloud.system.engine, "dispatcher")
    state_dir = tmp_path / "edge"
    link = cloud.system.command_link
    with gateway_running(cloud, gateway.id, state_dir):
        wait_until(lambda: gateway.id in link.online_gateways(),
                   what="the command link to see the gateway online")
    wait_until(lambda: gateway.id not in link.online_gateways(),
               what="the command link to see the gateway gone")

    held = send(cloud, dispatcher, device.id, "set_sample_period", {"sample_period_s": 4})
    assert held.status_code == 201, held.text
    command_id = held.json()["id"]
    # Held while it is away: the link has nobody to send it to (status, not time, says so).
    assert status_of(cloud, command_id)["status"] == "queued"

    with gateway_running(cloud, gateway.id, state_dir) as agent:
        done = until_status(cloud, command_id, "succeeded", "failed")
        assert done["status"] == "succeeded", done
        assert steps(done) == ["queued", "sent", "delivered", "succeeded"]
        assert agent.settings.period_of(device.id) == 4.0
        assert agent.remote.repeats == 0  # run once, not delivered twice
