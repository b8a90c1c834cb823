"""Local config file, remote config checks, edge rules and reconnect backoff: pure logic."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from edge_agent.cli import build_driver
from edge_agent.config import AgentConfig, ConfigError
from edge_agent.drivers import Reading
from edge_agent.edge_rules import EdgeRule, RuleState
from edge_agent.link import backoff_delay
from edge_agent.settings import AppliedConfigFile, ConfigRejected, parse_remote

EXAMPLE = Path(__file__).parents[2] / "edge_agent" / "examples" / "gateway.toml"

GOOD = {"v": 1, "version": 3, "sample_period_s": 5, "batch_max_readings": 50,
        "batch_max_age_s": 10, "device_periods": {"d2": 30},
        "rules": [{"id": "tds-high", "metric": "tds_ppm", "condition": "above",
                   "threshold": 150, "clear": 120, "severity": "critical", "devices": ["d1"]}]}


def test_the_example_config_loads_with_its_modbus_devices(tmp_path: Path) -> None:
    (tmp_path / "gw.secret").write_text("pw\n")
    text = EXAMPLE.read_text().replace("/etc/fieldpulse/gw-001.secret", "gw.secret")
    (tmp_path / "gateway.toml").write_text(text)
    config = AgentConfig.load(tmp_path / "gateway.toml")
    assert config.tls and config.username == config.gateway_id and config.password == "pw"
    driver = build_driver(config)
    assert driver.device_ids() == ["dev-0001", "dev-0002"]


def test_sections_map_to_settings_and_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s3cret\n")
    path = tmp_path / "gw.toml"
    path.write_text('gateway_id = "gw-9"\nstate_dir = "state"\n'
                    '[broker]\nport = 8883\nusername = "gw-9"\npassword_file = "secret"\n'
                    '[sampling]\nsample_period_s = 2\n[outbox]\nmax_bytes = 1000\n')
    config = AgentConfig.load(path)
    assert config.state_dir == tmp_path / "state"
    assert (config.broker_port, config.password, config.sample_period_s) == (8883, "s3cret", 2.0)
    assert config.outbox_max_bytes == 1000


@pytest.mark.parametrize(("text", "message"), [
    ('gateway_id = "gw-1"\nstate_dir = "s"\n[broker]\nhots = "x"\n',
     "unknown setting 'broker.hots'"),
    ('gateway_id = "gw/1"\nstate_dir = "s"\n', "gateway_id 'gw/1'"),
    ('state_dir = "s"\n', "'gateway_id' is required"),
    ('gateway_id = "gw-1"\nstate_dir = "s"\n[sampling]\nsample_period_s = 0\n',
     "sample_period_s must be a number > 0"),
    ('gateway_id = "gw-1"\nstate_dir = "s"\n[outbox]\nmax_bytes = "lots"\n',
     "outbox_max_bytes must be an integer"),
    ('gateway_id = "gw-1"\nstate_dir = "s"\n[broker]\npassword_file = "nope"\n',
     "broker.password_file: cannot read nope"),
    ('gateway_id = "gw-1"\nstate_dir = \n', "gw.toml: "),
])
def test_a_bad_local_config_is_refused_naming_the_setting(tmp_path: Path, text: str,
                                                         message: str) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("'", "'")):
        AgentConfig.load(path)


def test_a_valid_remote_config_becomes_run_settings() -> None:
    settings = parse_remote(orjson.dumps(GOOD), ["d1", "d2"])
    assert settings.version == 3 and settings.period_of("d1") == 5.0
    assert settings.period_of("d2") == 30.0
    (rule,) = settings.rules
    assert rule.devices == frozenset({"d1"}) and rule.threshold == 150.0


@pytest.mark.parametrize(("change", "message"), [
    ({"sample_period_s": 0}, "config: sample_period_s"),
    ({"batch_max_readings": 20000}, "config: batch_max_readings"),
    ({"device_periods": {"d9": 1}}, r"device_periods: unknown device\(s\) \['d9'\]"),
    ({"rules": [{**GOOD["rules"][0], "clear": 200}]}, "clear: 200 is on the alarm side"),
    ({"rules": [{**GOOD["rules"][0], "devices": ["d7"]}]}, r"devices: unknown device\(s\)"),
    ({"rules": [GOOD["rules"][0], GOOD["rules"][0]]}, "rule ids must be unique"),
    ({"rules": [{**GOOD["rules"][0], "condition": "sideways"}]}, r"config: rules\[0\].condition"),
])
def test_a_bad_remote_config_is_rejected_with_the_reason(change: dict, message: str) -> None:
    with pytest.raises(ConfigRejected, match=message):
        parse_remote(orjson.dumps({**GOOD, **change}), ["d1", "d2"])


def test_not_json_is_rejected() -> None:
    with pytest.raises(ConfigRejected, match="config: "):
        parse_remote(b"{nope", ["d1"])


def test_the_applied_config_is_kept_for_the_next_start(tmp_path: Path) -> None:
    stored = AppliedConfigFile(tmp_path / "remote-config.json")
    assert stored.load(["d1", "d2"]) is None
    stored.save(orjson.dumps(GOOD))
    assert stored.load(["d1", "d2"]).version == 3


def test_an_edge_rule_raises_once_per_episode() -> None:
    rule = EdgeRule("tds-high", "tds_ppm", "above", 150.0, 120.0, "critical")
    state = RuleState([rule])

    def step(value: float) -> int:
        return len(state.evaluate([Reading("d1", 0, {"tds_ppm": value})]))

    assert [step(v) for v in (100, 151, 200, 130, 151, 119, 160)] == [0, 1, 0, 0, 0, 0, 1]


def test_a_rule_limited_to_devices_ignores_the_others() -> None:
    rule = EdgeRule("p-low", "bar", "below", 1.5, 2.0, "medium", frozenset({"d2"}))
    events = RuleState([rule]).evaluate([Reading("d1", 0, {"bar": 1.0}),
                                         Reading("d2", 0, {"bar": 1.0})])
    assert [e.dev for e in events] == ["d2"]


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert [backoff_delay(n, 1.0, 60.0, lambda: 1.0) for n in range(8)] == [
        1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(3, 1.0, 60.0, lambda: 0.0) == 4.0  # at least half of the step
    assert backoff_delay(100, 1.0, 60.0, lambda: 0.5) == 45.0
