"""Configuration rollouts over a real Mosquitto: a model's edge settings and rules reach
all three of its gateways (3/3, and the agents run them), a rollback restores the
previous ones, and a gateway that refuses its config is named with its reason."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx
from command_support import MODELS, gateway_running

from commands.rollouts import edge_rules_of
from edge_agent.agent import EdgeAgent
from support import RunningCloud, make_account, wait_until

MODEL = "torrent-cp75"  # on three gateways of the test fleet


def gateways_of(cloud: RunningCloud, model_id: str) -> list[str]:
    return sorted({d.gateway_id for d in cloud.fleet.devices if d.model_id == model_id})


def progress(cloud: RunningCloud, rollout_id: int) -> dict:
    answer = cloud.api.get(f"{cloud.base_url}/api/config-rollouts/{rollout_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def until_settled(cloud: RunningCloud, rollout_id: int) -> dict:
    """Every gateway of the rollout applied or failed."""
    return wait_until(lambda: (p := progress(cloud, rollout_id))["applied"] + p["failed"]
                      == p["total"] and p, what=f"rollout {rollout_id} to settle")  # type: ignore[return-value]


def runs(agent: EdgeAgent, cloud: RunningCloud, period: float, thresholds: dict[str, float]
         ) -> bool:
    """The agent samples the model's devices every `period` and evaluates exactly these
    edge rules (its sampler swapped them in)."""
    devices = [d.id for d in cloud.fleet.devices_of(agent.config.gateway_id)
               if d.model_id == MODEL]
    rules = {r.id: r.threshold for r in agent.rules.rules}
    return (all(agent.settings.period_of(d) == period for d in devices)
            and rules == {f"{MODEL}-{rule_id}": t for rule_id, t in thresholds.items()})


def test_a_rollout_reaches_all_gateways_takes_effect_and_a_rollback_restores_it(
        cloud: RunningCloud, tmp_path: Path) -> None:
    dispatcher = make_account(cloud.system.engine, "dispatcher")
    gateways = gateways_of(cloud, MODEL)
    assert len(gateways) == 3
    model_rules = {r["id"]: r["threshold"] for r in edge_rules_of(MODELS[MODEL])}
    assert model_rules, "the model has edge rules to push"
    with ExitStack() as stack:
        agents = [stack.enter_context(gateway_running(cloud, gw, tmp_path / gw))
                  for gw in gateways]
        first = httpx.post(f"{cloud.base_url}/api/models/{MODEL}/config-rollouts",
                           headers=dispatcher.headers, json={"sample_period_s": 2.5})
        assert first.status_code == 201, first.text
        assert (first.json()["applied"], first.json()["total"]) == (0, 3)
        done = until_settled(cloud, first.json()["id"])
        assert (done["applied"], done["total"], done["failed"]) == (3, 3, 0), done
        for agent in agents:
            wait_until(lambda a=agent: runs(a, cloud, 2.5, model_rules), what="rollout 1 runs")
            # and it runs only the commands each device's model allows
            assert agent.settings.commands == {
                d.id: frozenset(MODELS[d.model_id].commands)
                for d in cloud.fleet.devices_of(agent.config.gateway_id)}

        rule = next(iter(model_rules))
        custom = {**next(r for r in edge_rules_of(MODELS[MODEL]) if r["id"] == rule)}
        custom["threshold"] += 1.0
        custom["clear"] += 1.0
        second = httpx.post(f"{cloud.base_url}/api/models/{MODEL}/config-rollouts",
                            headers=dispatcher.headers,
                            json={"sample_period_s": 4, "rules": [custom]}).json()
        assert until_settled(cloud, second["id"])["applied"] == 3
        for agent in agents:
            wait_until(lambda a=agent: runs(a, cloud, 4.0, {rule: custom["threshold"]}),
                       what="rollout 2 runs")

        back = httpx.post(f"{cloud.base_url}/api/config-rollouts/{second['id']}/rollback",
                          headers=dispatcher.headers)
        assert back.status_code == 201, back.text
        assert back.json()["rollback_of"] == second["id"]
        assert until_settled(cloud, back.json()["id"])["applied"] == 3
        for agent in agents:
            wait_until(lambda a=agent: runs(a, cloud, 2.5, model_rules),
                       what="rollout 1's settings again")
            assert agent.settings.version == back.json()["id"]
    first_again = httpx.post(f"{cloud.base_url}/api/config-rollouts/{first.json()['id']}/"
                             "rollback", headers=dispatcher.headers)
    assert first_again.status_code == 409
    assert "there is no earlier configuration" in first_again.json()["detail"]


def test_a_gateway_that_refuses_its_config_is_named_with_its_reason(
        cloud: RunningCloud, tmp_path: Path) -> None:
    first, *others = gateways_of(cloud, MODEL)
    with ExitStack() as stack:
        # The first gateway lost a device the registry still has: it refuses a config
        # that names it, and keeps running the one it has.
        missing = next(d.id for d in cloud.fleet.devices_of(first) if d.model_id == MODEL)
        broken = stack.enter_context(gateway_running(cloud, first, tmp_path / first,
                                                     without=missing))
        for gw in others:
            stack.enter_context(gateway_running(cloud, gw, tmp_path / gw))
        rollout = cloud.api.post(f"{cloud.base_url}/api/models/{MODEL}/config-rollouts",
                                 json={"sample_period_s": 3}).json()
        done = until_settled(cloud, rollout["id"])
        assert (done["applied"], done["failed"], done["total"]) == (2, 1, 3), done
        failed = next(t for t in done["targets"] if t["status"] == "failed")
        assert failed["gateway_id"] == first
        assert failed["error"] == f"device_periods: unknown device(s) ['{missing}']"
        assert broken.settings.version == 0
