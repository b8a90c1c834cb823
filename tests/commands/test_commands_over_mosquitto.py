"""Commands from the API to a device on a live simulated gateway and back, over a real
Mosquitto, with the cloud's command link (aiomqtt, its own broker account) in its
supervisor: values read now, a command held for an offline gateway, an expired one never
run, a gateway that never sees (or answers for) another gateway's commands, and who may
send what."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
from command_support import MODELS, gateway_running
from sqlmodel import Session

from foundations.clock import now_ms
from foundations.database import session_scope
from ingest.tables import LatestValue
from portal.auth.audit import recent
from service.cases import open_case
from support import Account, RunningCloud, make_account, wait_until
from support import Session as MqttSession
from testing_support.broker_logins import login


def send(cloud: RunningCloud, who: Account, device_id: str, command: str, params: dict,
         expires_in_s: float = 60) -> httpx.Response:
    return httpx.post(f"{cloud.base_url}/api/devices/{device_id}/commands", headers=who.headers,
                      json={"command": command, "params": params,
                            "expires_in_s": expires_in_s}, timeout=10)


def status_of(cloud: RunningCloud, command_id: str) -> dict:
    answer = cloud.api.get(f"{cloud.base_url}/api/commands/{command_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def until_status(cloud: RunningCloud, command_id: str, *statuses: str) -> dict:
    return wait_until(lambda: (c := status_of(cloud, command_id))["status"] in statuses and c,
                      what=f"command {command_id} to be {' or '.join(statuses)}")  # type: ignore[return-value]


def steps(command: dict) -> list[str]:
    """The statuses of its history, a resend (sent again) counted once."""
    out: list[str] = []
    for event in command["history"]:
        if not out or out[-1] != event["status"]:
            out.append(event["status"])
    return out


def test_a_dispatcher_reads_a_device_now_through_the_api(cloud: RunningCloud,
                                                          tmp_path: Path) -> None:
    gateway = cloud.fleet.gateways[0]
    device = cloud.fleet.devices_of(gateway.id)[0]
    metrics = sorted(MODELS[device.model_id].attributes)[:2]
    dispatcher = make_account(cloud.system.engine, "dispatcher")
    with gateway_running(cloud, gateway.id, tmp_path / "edge"):
        wait_until(lambda: gateway.id in cloud.system.command_link.online_gateways(),
                   what="the command link to see the gateway online")
        created = send(cloud, dispatcher, device.id, "read_now", {"metrics": metrics})
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "queued"
        done = until_status(cloud, created.json()["id"], "succeeded", "failed")
    assert done["status"] == "succeeded", done
    assert steps(done) == ["queued", "sent", "delivered", "succeeded"]
    result = done["result"]
    assert result["dev"] == device.id and sorted(result["values"]) == metrics
    # The values are the device's, read then: the same sample reached ingest as telemetry.
    with Session(cloud.system.engine) as session:
        for metric in metrics:
            latest = wait_until(lambda m=metric: (v := session.get(LatestValue, (device.id, m)))
                                and v.ts >= result["ts"] and v, what=f"{metric} stored")
            session.expire_all()
            assert latest.ts == result["ts"] and latest.value == result["values"][metric]  # type: ignore[union-attr]
    metrics_text = cloud.api.get(f"{cloud.base_url}/metrics").text
    counted = {line.split()[0]: float(line.split()[1]) for line in metrics_text.splitlines()
               if line.startswith("fieldpulse_commands_")}
    assert counted["fieldpulse_commands_published_total"] >= 1
    assert counted["fieldpulse_commands_acks_total"] >= 2  # the receipt and the answer
    assert counted["fieldpulse_commands_broker_connected"] == 1
    listed = cloud.api.get(f"{cloud.base_url}/api/devices/{device.id}/commands").json()
    assert [c["id"] for c in listed] == [done["id"]]
    with Session(cloud.system.engine) as session:
        audit = recent(session, action="command.send", target=f"device:{device.id}")
    assert [e.actor for e in audit] == [f"user:{dispatcher.username}"]


def test_a_command_for_an_offline_gateway_is_delivered_when_it_comes_back_and_an_expired_one_never_runs(  # noqa: E501
        cloud: RunningCloud, tmp_path: Path) -> None:
    gateway = cloud.fleet.gateways[1]
    device = cloud.fleet.devices_of(gateway.id)[0]
    dispatcher = make_account(cloud.system.engine, "dispatcher")
    late = send(cloud, dispatcher, device.id, "set_sample_period", {"sample_period_s": 7},
                expires_in_s=1).json()
    held = send(cloud, dispatcher, device.id, "set_sample_period",
                {"sample_period_s": 3}).json()
    until_status(cloud, late["id"], "expired")
    assert status_of(cloud, held["id"])["status"] == "queued"  # nobody to send it to
    with gateway_running(cloud, gateway.id, tmp_path / "edge") as agent:
        done = until_status(cloud, held["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        assert agent.settings.period_of(device.id) == 3.0
        # The expired one never left the cloud: the gateway has no trace of it.
        assert agent.remote.log.get(late["id"]) is None
    assert status_of(cloud, late["id"])["status"] == "expired"
    assert steps(status_of(cloud, late["id"])) == ["queued", "expired"]


def test_a_gateway_never_sees_nor_answers_another_gateways_commands(
        cloud: RunningCloud, tmp_path: Path) -> None:
    a, b = cloud.fleet.gateways[0], cloud.fleet.gateways[1]
    device_a, device_b = cloud.fleet.devices_of(a.id)[0], cloud.fleet.devices_of(b.id)[0]
    dispatcher = make_account(cloud.system.engine, "dispatcher")
    # Gateway A, logged in as itself, asks for every gateway's commands and B's, and says
    # it is online, so that its own commands come to this session.
    spy = MqttSession(cloud.broker_port, *login(cloud.broker, a.id))
    try:
        spy.subscribe("fp/v1/gw/+/cmd", f"fp/v1/gw/{b.id}/cmd", f"fp/v1/gw/{a.id}/cmd")
        spy.publish(f"fp/v1/gw/{a.id}/status", orjson.dumps({
            "v": 1, "gw": a.id, "state": "online", "ts": now_ms(), "fw": "spy",
            "devices": [device_a.id]}), retain=True)
        metric_b = sorted(MODELS[device_b.model_id].attributes)[0]
        for_b = send(cloud, dispatcher, device_b.id, "read_now", {"metrics": [metric_b]}).json()
        # A answers for B's command on its own ack topic (the only one it may use), and
        # tries B's: neither touches the command.
        forged = orjson.dumps({"v": 1, "id": for_b["id"], "ok": False, "error": "forged"})
        spy.publish(f"fp/v1/gw/{a.id}/cmd/ack", forged)
        assert spy.publish(f"fp/v1/gw/{b.id}/cmd/ack", forged).is_failure  # type: ignore[attr-defined]
        link = cloud.system.command_link
        wait_until(lambda: link.stats.acks_ignored >= 1, what="the forged ack ignored")
        assert status_of(cloud, for_b["id"])["status"] == "queued"
        with gateway_running(cloud, b.id, tmp_path / "edge-b"):
            done = until_status(cloud, for_b["id"], "succeeded", "failed")
        assert done["status"] == "succeeded" and done["error"] is None, done
        # A's own command reaches it: the session would have seen B's, had they come.
        metric_a = sorted(MODELS[device_a.model_id].attributes)[0]
        for_a = send(cloud, dispatcher, device_a.id, "read_now", {"metrics": [metric_a]}).json()
        wait_until(lambda: spy.received, what="A's own command")
        assert [orjson.loads(p)["id"] for _, p in spy.received] == [for_a["id"]] * len(
            spy.received)
        assert {t for t, _ in spy.received} == {f"fp/v1/gw/{a.id}/cmd"}
    finally:
        spy.close()


def test_engineers_run_diagnostics_on_their_own_jobs_devices_and_are_refused_a_reconfiguration(
        cloud: RunningCloud) -> None:
    fleet = cloud.fleet
    mine, other = fleet.devices[0], fleet.devices[-1]
    engineer_id = fleet.engineers[0].id
    with session_scope(cloud.system.engine) as session:
        _, order = open_case(session, device_id=mine.id, source="alert", title="test job",
                             skill="refrigeration", duration_min=30, priority=3)
        # en route: a job the dispatcher no longer replans away from them
        order.engineer_id, order.status = engineer_id, "en_route"
        session.add(order)
    engineer = make_account(cloud.system.engine, "engineer", engineer_id=engineer_id)
    metric = sorted(MODELS[mine.model_id].attributes)[0]

    allowed = send(cloud, engineer, mine.id, "read_now", {"metrics": [metric]})
    assert allowed.status_code == 201, allowed.text
    assert httpx.get(f"{cloud.base_url}/api/commands/{allowed.json()['id']}",
                     headers=engineer.headers).status_code == 200

    refused = send(cloud, engineer, mine.id, "set_sample_period", {"sample_period_s": 5})
    assert refused.status_code == 403
    assert "only dispatchers and admins" in refused.json()["detail"]
    not_theirs = send(cloud, engineer, other.id, "read_now", {"metrics": [metric]})
    assert not_theirs.status_code == 403
    with Session(cloud.system.engine) as session:
        sent = recent(session, action="command.send")
    assert len(sent) == 1  # refusals change nothing


def test_every_bad_command_gets_a_clear_error(cloud: RunningCloud) -> None:
    device = cloud.fleet.devices[0]
    admin = cloud.admin
    metric = sorted(MODELS[device.model_id].attributes)[0]
    cases = [
        ("no_such_device", "read_now", {"metrics": [metric]}, 60, 404, "no device"),
        # a command of the wire contract, but not one of the model's
        (device.id, "ping", {}, 60, 422, "has no command 'ping' (it has: read_now, reboot, "
                                         "reset_fault, set_sample_period, stream)"),
        (device.id, "read_now", {}, 60, 422, "parameter 'metrics' is required"),
        (device.id, "read_now", {"metrics": ["warp_factor"]}, 60, 422,
         "unknown metric(s) ['warp_factor']"),
        (device.id, "read_now", {"metrics": [metric], "rate_hz": 5}, 60, 422,
         "unknown parameter(s) ['rate_hz']"),
        (device.id, "set_sample_period", {"sample_period_s": 0}, 60, 422,
         "below the minimum"),
        (device.id, "set_sample_period", {"sample_period_s": "fast"}, 60, 422,
         "expected a number"),
        (device.id, "read_now", {"metrics": [metric]}, 0, 422, "expires_in_s"),
    ]
    for device_id, name, params, expires, status, message in cases:
        answer = send(cloud, admin, device_id, name, params, expires_in_s=expires)
        assert answer.status_code == status, (name, params, answer.text)
        assert message in answer.text, (name, params, answer.text)
    assert httpx.get(f"{cloud.base_url}/api/commands/c-nothing",
                     headers=admin.headers).status_code == 404
