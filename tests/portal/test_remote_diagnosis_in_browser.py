"""Remote diagnosis from the console, on a live simulated gateway over a real Mosquitto:
a latched fault raises an alert; from the alert, "Diagnose" opens the device panel; a
read_now shows the device's values; a stream's readings arrive in the chart; a reset
clears the fault, so a new read is back to normal; every step is on the alert's timeline."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Locator, Page, expect
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from asset_registry.catalog import load_models
from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from foundations.clock import now_ms
from simulators.driver import SimulatedDriver
from simulators.faults import Fault
from simulators.profiles import builtin_profiles
from simulators.signals import DeviceSimulator
from support import RunningCloud, make_account, wait_until
from testing_support.broker_logins import login

MODEL, KIND = "aquapure-ro500", "membrane_failure"


@contextmanager
def _gateway(cloud: RunningCloud, gateway_id: str, state_dir: Path, faults: list[Fault]
             ) -> Iterator[EdgeAgent]:
    """The gateway's edge agent with its own broker account, sampling every 2 s."""
    username, password = login(cloud.broker, gateway_id)
    config = AgentConfig(gateway_id=gateway_id, state_dir=state_dir,
                         broker_port=cloud.broker_port, username=username, password=password,
                         sample_period_s=2.0, batch_max_age_s=0.2, reconnect_min_s=0.2,
                         reconnect_max_s=1.0)
    agent = EdgeAgent(config, SimulatedDriver(cloud.fleet.devices_of(gateway_id),
                                              load_models(), faults, seed=1))
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), name=f"edge-{gateway_id}")
    thread.start()
    try:
        wait_until(agent.connected.is_set, what=f"{gateway_id} to connect")
        yield agent
    finally:
        stop.set()
        thread.join(timeout=15)


def _readings_in_chart(tab: Page, metric: str) -> int:
    """The readings the chart's buckets count (each bucket's hover title names its n)."""
    return int(tab.evaluate("""(metric) => [...document.querySelectorAll(
        `figure.chart[data-metric=${metric}] rect.hover title`)].reduce((sum, t) => {
            const m = t.textContent.match(/, (\\d+) readings\\)/); return sum + (m ? +m[1] : 0);
        }, 0)""", metric))


def _send(tab: Page, form: Locator) -> Locator:
    """Submit a command's form; its row (the newest) once it has ended well."""
    rows = tab.locator("#diag-commands > li[data-command-id]")
    before = rows.count()
    form.get_by_role("button").click()
    expect(rows).to_have_count(before + 1)
    row = rows.first
    expect(row).to_have_attribute("data-status", "succeeded", timeout=30_000)
    return row


def test_from_an_alert_a_dispatcher_reads_streams_and_resets_the_fault(
        cloud: RunningCloud, page: Page, tmp_path: Path) -> None:  # noqa: F811
    device = next(d for d in cloud.fleet.devices if d.model_id == MODEL)
    spec = builtin_profiles()[MODEL].faults[KIND]
    fault = Fault("flt-console", device.id, KIND, now_ms() - 3_600_000, 25 * 3_600_000,
                  spec.metric, spec.rule_id)
    normal = DeviceSimulator(device.id, load_models()[MODEL], 1).normal(spec.metric)

    with _gateway(cloud, device.gateway_id, tmp_path / "edge", [fault]):
        wait_until(lambda: any(a["device_id"] == device.id and a["rule_id"] == spec.rule_id
                               for a in cloud.api.get(f"{cloud.base_url}/api/alerts").json()),
                   timeout_s=60, what="the fault's alert")
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(f"{cloud.base_url}/dispatch")
        _log_in(page, make_account(cloud.system.engine, "dispatcher"))
        page.locator(f"#alerts button[data-diagnose='{device.id}']").first.click()

        diagnosis = page.locator("#diagnosis")
        expect(diagnosis.get_by_role("heading", name="Remote diagnosis")).to_be_visible()
        read_now = diagnosis.locator("form[data-command=read_now]")
        read_now.locator("select[name=metrics]").select_option([spec.metric])
        latest = _send(page, read_now)
        expect(latest.locator(".diag-steps li")).to_have_count(4)  # queued … succeeded
        faulty = float(latest.locator(f"dd[data-metric={spec.metric}]").inner_text())
        assert abs(faulty - spec.target) < abs(faulty - normal), faulty

        chart_before = _readings_in_chart(page, spec.metric)
        stream = diagnosis.locator("form[data-command=stream]")
        stream.locator("input[name=period_s]").fill("0.5")
        stream.locator("input[name=duration_s]").fill("30")
        _send(page, stream)
        # The stream's readings reach the chart while the panel stays open.
        wait_until(lambda: _readings_in_chart(page, spec.metric) >= chart_before + 10,
                   timeout_s=40, what="the stream's readings in the chart")

        reset = diagnosis.locator("form[data-command=reset_fault]")
        expect(_send(page, reset)).to_contain_text("flt-console")

        again = _send(page, read_now)
        expect(again.locator("b")).to_have_text("read_now")
        healthy = float(again.locator(f"dd[data-metric={spec.metric}]").inner_text())
        assert abs(healthy - normal) < abs(healthy - spec.target), healthy

        # Sent from the alert: every step of every command is on the alert's timeline.
        trail = page.locator("#diag-alert-events li[data-action=command]")
        expect(trail.filter(has_text="reset_fault succeeded")).to_have_count(1)
        for name in ("read_now", "stream", "reset_fault"):
            for step in ("queued", "sent", "delivered", "succeeded"):
                expect(trail.filter(has_text=f"{name} {step}").first).to_be_visible()
        expect(trail.filter(has_text="read_now succeeded")).to_have_count(2)
        _shot(page, "console-remote-diagnosis")
