"""The dispatch board at a desk (1440x900): the plan in force's jobs as blocks in their
engineers' rows; a job dragged to another engineer's row is pinned to them and the
next plan moves it there; one moved (with the keyboard's form) to an engineer who
cannot take it stays unplanned, and the board says why."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.sync_api import Page, expect
from sqlmodel import Session, select
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from foundations.database import session_scope
from service.cases import open_case
from service.tables import Engineer, WorkOrder
from support import RunningCloud, make_account, wait_until


def _on_shift_now(cloud: RunningCloud) -> None:
    """Every engineer on shift from an hour ago for eleven hours (whatever the time the
    test runs: a shift about to end could not take the job)."""
    now = datetime.now(cloud.system.settings.tz)
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), \
        (now + timedelta(hours=11)).strftime("%H:%M")
    with session_scope(cloud.system.engine) as s:
        for engineer in s.exec(select(Engineer)):
            engineer.shift_start, engineer.shift_end, engineer.lunch_minutes = start, end, 0
            s.add(engineer)


def _order(cloud: RunningCloud, order_id: int) -> WorkOrder:
    with Session(cloud.system.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        return order


def test_a_job_dragged_to_another_engineer_is_pinned_and_the_plan_follows(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    _on_shift_now(cloud)
    device = cloud.fleet.devices[0]
    skill = cloud.system.models[device.model_id].service_skill
    with session_scope(cloud.system.engine) as s:
        _, order = open_case(s, device_id=device.id, source="api", title="Board test",
                             skill=skill, duration_min=30, priority=3)
        s.flush()
        assert order.id is not None
        order_id = order.id
        engineers = list(s.exec(select(Engineer).order_by(Engineer.id)))
    cloud.system.dispatcher.review = False
    cloud.system.dispatcher.plan_now()
    first = _order(cloud, order_id).engineer_id
    assert first is not None, "the plan gave the job to someone"
    target = next(e for e in engineers if skill in e.skill_set() and e.id != first)
    unqualified = next(e for e in engineers if skill not in e.skill_set())

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/dispatch/board")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    expect(page).to_have_url(f"{cloud.base_url}/dispatch/board")
    block = page.locator(f".board-job[data-work-order='{order_id}']")
    expect(page.locator(f".board-row[data-engineer='{first}']")
           .locator(f".board-job[data-work-order='{order_id}']")).to_be_visible()
    expect(page.locator(".board-row")).to_have_count(len(engineers))
    expect(block).to_contain_text(device.serial)
    expect(block).to_have_attribute("aria-label",
                                    re.compile(f"#{order_id} {device.serial}: Board test"))
    _shot(page, "dispatch-board")

    # Drag the block to the target engineer's row: pinned, and the next plan moves it.
    block.drag_to(page.locator(f".board-row[data-engineer='{target.id}'] .board-lane"))
    wait_until(lambda: _order(cloud, order_id).pinned_engineer_id == target.id,
               what="the pin")
    expect(page.locator("#board-status")).to_contain_text(
        f"Job #{order_id} is now {target.name}'s", timeout=30_000)
    expect(page.locator(f".board-row[data-engineer='{target.id}']")
           .locator(f".board-job[data-work-order='{order_id}']")).to_be_visible()
    assert _order(cloud, order_id).engineer_id == target.id
    _shot(page, "dispatch-board-moved")

    # The keyboard's way, to an engineer without the skill: the plan cannot follow,
    # the job waits among the unplanned with the plan's reason, and the board says so.
    page.select_option("#move-job", str(order_id))
    page.select_option("#move-engineer", unqualified.id)
    page.get_by_role("button", name="Pin to this engineer").click()
    status = page.locator("#board-status")
    expect(status).to_contain_text(f"could not give job #{order_id} to {unqualified.name}",
                                   timeout=30_000)
    reason = _order(cloud, order_id).unassigned_reason
    assert reason
    expect(status).to_contain_text(reason)
    expect(page.locator(f"#unassigned li[data-work-order='{order_id}']")).to_contain_text(reason)
