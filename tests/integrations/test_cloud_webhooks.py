"""The running cloud system (real HTTP server, dispatcher, webhook worker in the main
process): what a CRM posts through the intake API comes back to it as signed events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from webhook_receiver import Receiver

from foundations.processes import free_port
from support import RunningCloud, wait_until


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port()).start()
    yield receiver
    receiver.stop()


def test_a_crm_case_posted_twice_comes_back_once_as_signed_events(
        cloud: RunningCloud, receiver: Receiver) -> None:
    api = f"{cloud.base_url}/api"
    sub = cloud.api.post(f"{api}/webhooks", json={
        "url": receiver.url, "record_types": ["case", "work_order"]}).json()
    receiver.secret = sub["secret"]
    body = {"device_id": cloud.fleet.devices[0].id, "title": "CRM ticket 4711", "priority": 3}
    answers = [cloud.api.post(f"{api}/cases", json=body, headers={"Idempotency-Key": "4711"})
               for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    case_id = answers[0].json()["case"]["id"]
    order_id = answers[0].json()["work_orders"][0]["id"]

    def types_of(record_type: str, record_id: int) -> list[str]:
        return [e["type"] for e in sorted(receiver.got.bodies.values(),
                                          key=lambda e: e["sequence"])
                if e["record_type"] == record_type and e["record_id"] == str(record_id)]

    wait_until(lambda: types_of("case", case_id) and types_of("work_order", order_id),
               what="the case's and the work order's events at the receiver")
    assert types_of("case", case_id) == ["case.created"]
    assert types_of("work_order", order_id)[0] == "work_order.created"
    assert receiver.got.bad_signatures == 0 and receiver.got.out_of_order == []

    # The receiver has the events a moment before the sender records its 2xx answer.
    def delivered() -> set[tuple[str, str]]:
        rows = cloud.api.get(f"{api}/webhooks/{sub['id']}/deliveries",
                             params={"status": "delivered"}).json()
        return {(d["record_type"], d["record_id"]) for d in rows}

    wait_until(lambda: delivered() >= {("case", str(case_id)), ("work_order", str(order_id))},
               what="both deliveries recorded as delivered")
