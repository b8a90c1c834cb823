"""`contracts check`: exit 0 valid, 1 invalid, 2 unknown kind; the offending field is printed."""

from pathlib import Path

import typer
from typer.testing import CliRunner

from firmware_contracts.cli import app

EXAMPLES = Path(__file__).parents[2] / "firmware_contracts" / "examples"
runner = CliRunner()


def check(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, ["check", *map(str, args)])
    return result.exit_code, result.output


def test_valid_file_prints_ok_and_exits_0() -> None:
    code, output = check(EXAMPLES / "telemetry.valid.json")
    assert code == 0, output
    assert "OK telemetry (5 readings" in output


def test_every_valid_example_passes_together() -> None:
    valid = sorted(p for p in EXAMPLES.glob("*.json") if ".invalid." not in p.name)
    valid.remove(EXAMPLES / "expected.json")
    code, output = check(*valid)
    assert code == 0, output
    assert output.count("OK ") == len(valid)


def test_invalid_file_names_the_field_and_exits_1() -> None:
    code, output = check(EXAMPLES / "telemetry.invalid.ts-string.json")
    assert code == 1
    assert "INVALID telemetry: readings[1].ts: must be integer" in output


def test_one_invalid_file_among_several_fails_the_run() -> None:
    code, output = check(
        EXAMPLES / "status.online.json", EXAMPLES / "status.invalid.online-without-devices.json"
    )
    assert code == 1
    assert "OK status" in output
    assert "INVALID status: devices: is required when state is online" in output


def test_kind_option_overrides_detection() -> None:
    code, output = check("--kind", "status", EXAMPLES / "telemetry.valid.json")
    assert code == 1
    assert "INVALID status: state: is required" in output


def test_unknown_kind_option_exits_2() -> None:
    code, output = check("--kind", "telemetry_v2", EXAMPLES / "telemetry.valid.json")
    assert code == 2
    assert "unknown kind 'telemetry_v2'" in output


def test_undetectable_content_exits_2(tmp_path: Path) -> None:
    payload = tmp_path / "mystery.json"
    payload.write_text('{"v": 1}')
    code, output = check(payload)
    assert code == 2
    assert "pass --kind" in output


def test_not_json_is_invalid() -> None:
    code, output = check(EXAMPLES / "telemetry.invalid.truncated.json")
    assert code == 1
    assert "$: invalid JSON" in output


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _ = check(tmp_path / "nope.json")
    assert code == 2


def test_mounts_as_contracts_subcommand() -> None:
    root = typer.Typer()
    root.add_typer(app, name="contracts")

    @root.command()
    def version() -> None:  # a second command, as the real root app has
        """Print the version."""

    result = runner.invoke(root, ["contracts", "check", str(EXAMPLES / "cmd.ping.json")])
    assert result.exit_code == 0, result.output
    assert "OK cmd (ping" in result.output
