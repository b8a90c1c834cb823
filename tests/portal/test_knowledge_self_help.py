"""Troubleshooting articles in the portal: the customer's "Try this first" guides with
their answers (fixed: no visit; still broken: the fault report lists what was tried),
the article API (ranked search, versions, who may write), the engineer's procedures in
the job's data, and deflection in /metrics."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal
from prometheus_client import CollectorRegistry, generate_latest
from sqlmodel import Session, select

from foundations.database import session_scope
from knowledge.tables import Article
from portal.auth.dependencies import CSRF_COOKIE
from rules.tables import Alert
from service.self_service import DeflectionCollector
from service.tables import Case, SelfHelpAttempt, WorkOrder

# A rule of each demo model with a guide for customers.
CUSTOMER_RULE = {"aquapure-ro500": "tds-high", "polarflow-ch200": "supply-temp-high",
                 "torrent-cp75": "vibration-high"}


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app, follow_redirects=False) as client:
        client.cookies.set(CSRF_COOKIE, csrf := secrets.token_urlsafe(16))
        client.headers["X-CSRF-Token"] = csrf
        yield client


def _open_alert(portal: Portal, device_id: str, rule_id: str) -> int:
    with session_scope(portal.engine) as session:
        alert = Alert(device_id=device_id, rule_id=rule_id, metric="x", severity="high",
                      message="engineering words", raised_at=1, raised_value=1.0)
        session.add(alert)
        session.flush()
        assert alert.id is not None
        return alert.id


def _guide_for_alert(portal: Portal, client: TestClient) -> tuple[str, int, str]:
    """Device A with an open alert: its page's first guide (url, article id, title)."""
    device = portal.device("A")
    _open_alert(portal, device.id, CUSTOMER_RULE[device.model_id])
    url = f"/q/{portal.tokens[device.id]}"
    page = client.get(url).text
    assert "Try this first" in page
    article_id = int(re.search(r'data-article="(\d+)"', page).group(1))
    with Session(portal.engine) as session:
        article = session.get(Article, article_id)
        assert article is not None
        assert f",{CUSTOMER_RULE[device.model_id]}," in article.rule_ids  # the alert's guide
    return url, article_id, article.title


def test_this_fixed_it_closes_a_self_service_case_with_no_visit(
        portal: Portal, client: TestClient) -> None:
    url, article_id, title = _guide_for_alert(portal, client)
    answered = client.post(f"{url}/guides/{article_id}", data={"outcome": "fixed"})
    assert answered.status_code == 303, answered.text
    case_id = int(re.search(r"fixed=(\d+)", answered.headers["location"]).group(1))
    with Session(portal.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and (case.source, case.status) == ("self_service", "closed")
        assert title in case.title
        assert session.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)).all() == []
    shown = client.get(answered.headers["location"]).text
    assert "no visit is needed" in shown and "Solved by you with a guide" in shown
    registry = CollectorRegistry()
    registry.register(DeflectionCollector(portal.engine))
    metrics = generate_latest(registry).decode()
    assert "fieldpulse_self_service_visits_avoided_total 1.0" in metrics
    assert f'fieldpulse_article_answers_total{{article="{article_id}",outcome="fixed"}} 1.0' \
        in metrics


def test_still_broken_goes_on_to_the_report_which_lists_what_was_tried(
        portal: Portal, client: TestClient) -> None:
    url, article_id, _title = _guide_for_alert(portal, client)
    answered = client.post(f"{url}/guides/{article_id}", data={"outcome": "still_broken"})
    assert answered.status_code == 303
    assert answered.headers["location"].endswith("#report")
    attempt_id = int(re.search(r"tried=(\d+)", answered.headers["location"]).group(1))
    page = client.get(answered.headers["location"]).text
    assert f'name="tried" value="{attempt_id}"' in page
    sent = client.post(f"{url}/report", data={"category": "Poor performance",
                                              "description": "still bad",
                                              "tried": str(attempt_id)})
    assert sent.status_code == 303, sent.text
    case_id = int(re.search(r"reported=(\d+)", sent.headers["location"]).group(1))
    with Session(portal.engine) as session:
        attempt = session.get(SelfHelpAttempt, attempt_id)
        assert attempt is not None and attempt.case_id == case_id
        steps = attempt.steps.splitlines()
    assert len(steps) >= 2
    detail = client.get(f"/api/cases/{case_id}",
                        headers=portal.accounts["dispatcher"].headers).json()
    assert "Tried before reporting" in detail["description"]
    assert all(step in detail["description"] for step in steps)
    # An answer is attached once: a second report does not list it again.
    again = client.post(f"{url}/report", data={"category": "Leak", "tried": str(attempt_id)})
    second = int(re.search(r"reported=(\d+)", again.headers["location"]).group(1))
    with Session(portal.engine) as session:
        assert "Tried before" not in (session.get(Case, second) or Case()).description


def test_customers_answer_only_guides_published_for_their_model(
        portal: Portal, client: TestClient) -> None:
    device = portal.device("A")
    url = f"/q/{portal.tokens[device.id]}"
    with Session(portal.engine) as session:
        articles = session.exec(select(Article)).all()
    other_model = next(a for a in articles if f",{device.model_id}," not in a.models)
    engineers_only = next(a for a in articles if f",{device.model_id}," in a.models
                          and ",customer," not in a.audience)
    for article in (other_model, engineers_only):
        refused = client.post(f"{url}/guides/{article.id}", data={"outcome": "fixed"})
        assert refused.status_code == 404, article.slug
    page = client.get(url).text
    assert other_model.title not in page and engineers_only.title not in page
    mine = next(a for a in articles if f",{device.model_id}," in a.models
                and ",customer," in a.audience)
    bad = client.post(f"{url}/guides/{mine.id}", data={"outcome": "maybe"})
    assert bad.status_code == 422 and "outcome" in bad.json()["detail"]
    with session_scope(portal.engine) as session:
        draft = session.get(Article, mine.id)
        assert draft is not None
        draft.published = False
        session.add(draft)
    assert client.post(f"{url}/guides/{mine.id}", data={"outcome": "fixed"}).status_code == 404
    assert mine.title not in client.get(url).text
    wrong_code = client.post(f"/q/{secrets.token_urlsafe(16)}/guides/{mine.id}",
                             data={"outcome": "fixed"})
    assert wrong_code.status_code == 404


def test_the_article_api_ranks_filters_and_refuses_bad_input(
        portal: Portal, client: TestClient) -> None:
    headers = portal.accounts["engineer_own"].headers
    found = client.get("/api/articles", params={"q": "refrigerant leak nitrogen",
                                                "model": "polarflow-ch200"}, headers=headers)
    assert found.status_code == 200
    body = found.json()
    assert body[0]["slug"] == "ch200-refrigerant-leak"
    assert all("polarflow-ch200" in a["models"] for a in body)
    assert [a["rank"] for a in body] == sorted((a["rank"] for a in body), reverse=True)
    one = client.get(f"/api/articles/{body[0]['id']}", headers=headers).json()
    assert "R410A" in one["body"] and "<ol>" in one["html"] and one["causes"]
    for params, message in [({"model": "toaster"}, "model"), ({"q": "x" * 201}, "q"),
                            ({"audience": "martians"}, "audience"), ({"limit": 0}, "limit"),
                            ({"rule": "tds%"}, "rule"), ({"fault": ""}, "fault")]:
        refused = client.get("/api/articles", params=params, headers=headers)
        assert refused.status_code == 422 and message in str(refused.json()["detail"]), params
    assert client.get("/api/articles/999999", headers=headers).status_code == 404


def test_only_admins_edit_and_every_edit_is_a_version(portal: Portal, client: TestClient) -> None:
    admin = portal.accounts["admin"].headers
    new = {"slug": "kb-test", "title": "Reset the display", "body": "1. Hold OK.\n",
           "models": ["torrent-cp75"], "audience": ["customer"], "published": False}
    for role in ("dispatcher", "engineer_own"):
        denied = client.post("/api/articles", json=new, headers=portal.accounts[role].headers)
        assert denied.status_code == 403
    made = client.post("/api/articles", json=new, headers=admin)
    assert made.status_code == 201, made.text
    article_id = made.json()["id"]
    # A draft: only admins see it.
    dispatcher = portal.accounts["dispatcher"].headers
    assert client.get(f"/api/articles/{article_id}", headers=dispatcher).status_code == 404
    assert client.post("/api/articles", json=new, headers=admin).status_code == 409
    bad = client.post("/api/articles", json=new | {"slug": "Bad Slug!"}, headers=admin)
    assert bad.status_code == 422 and "slug" in bad.json()["detail"]
    unknown = client.post("/api/articles", json=new | {"slug": "kb-2", "models": ["toaster"]},
                          headers=admin)
    assert unknown.status_code == 422 and "toaster" in unknown.json()["detail"]
    changed = client.put(f"/api/articles/{article_id}",
                         json=new | {"body": "1. Hold OK for 5 s.\n", "published": True},
                         headers=admin)
    assert changed.status_code == 200 and changed.json()["version"] == 2
    assert client.put(f"/api/articles/{article_id}", json=new | {"body": "x"},
                      headers=dispatcher).status_code == 403
    old = client.get(f"/api/articles/{article_id}?version=1", headers=dispatcher).json()
    assert old["version"] == 1 and "5 s" not in old["body"]
    assert [v["version"] for v in client.get(f"/api/articles/{article_id}/versions",
                                             headers=dispatcher).json()] == [1, 2]
    script = client.put(f"/api/articles/{article_id}",
                        json=new | {"body": "<script>alert(1)</script>"}, headers=admin).json()
    assert "<script" not in script["html"] and "&lt;script&gt;" in script["html"]


def test_the_engineers_job_carries_the_procedures_for_its_alert(
        portal: Portal, client: TestClient) -> None:
    device = portal.device("B")
    rule = {"aquapure-ro500": "tds-high", "polarflow-ch200": "refrigerant-pressure-low",
            "torrent-cp75": "bearing-hot"}[device.model_id]
    order_id = portal.new_job(device.id, portal.engineer_id("own"))
    alert_id = _open_alert(portal, device.id, rule)
    with session_scope(portal.engine) as session:
        order = session.get(WorkOrder, order_id)
        case = session.get(Case, order.case_id if order else 0)
        assert case is not None
        case.alert_id = alert_id
        session.add(case)
    job = client.get(f"/api/work-orders/{order_id}/job",
                     headers=portal.accounts["engineer_own"].headers).json()
    assert job["articles"] and job["articles"][0]["linked_to_alert"]
    assert "Safety" in job["articles"][0]["html"]


def test_a_customers_fault_report_brings_the_procedures_for_its_fault_code(
        portal: Portal, client: TestClient) -> None:
    chiller = next(d for d in portal.fleet.devices if d.model_id == "polarflow-ch200")
    sent = client.post(f"/q/{portal.tokens[chiller.id]}/report", data={"category": "Leak"})
    case_id = int(re.search(r"reported=(\d+)", sent.headers["location"]).group(1))
    with session_scope(portal.engine) as session:
        order = session.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)).one()
        order.engineer_id = portal.engineer_id("own")
        session.add(order)
        order_id = order.id
    job = client.get(f"/api/work-orders/{order_id}/job",
                     headers=portal.accounts["engineer_own"].headers).json()
    first = job["articles"][0]
    assert "Refrigerant leak" in first["title"] and first["linked_to_fault"]
    found = client.get("/api/articles", params={"fault": "Leak", "model": "polarflow-ch200"},
                       headers=portal.accounts["dispatcher"].headers).json()
    assert [a["slug"] for a in found] == ["ch200-refrigerant-leak"]
