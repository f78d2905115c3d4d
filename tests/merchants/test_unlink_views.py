"""Undoing a link through HTTP: the form on the merged case, scope, CSRF, versions, the shopper's page."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit import verify_chains
from portal.models import Complaint, Event
from tests.factories import Factory
from tests.merchants.conftest import login_as
from tests.merchants.test_signals_views import World, _link_form, page, world

__all__ = ["world"]  # the fixture, shared with the linking tests
REASON = "两次是不同的订单：一次瓷砖，一次地板。"


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let every request get its own app context, as in production."""
    return detached_session


def _linked(client: FlaskClient, factory: Factory, world: World) -> tuple[Complaint, Complaint]:
    """Two cases of one shopper at one shop, linked by the station through the page."""
    first = world.file(factory, world.shops[0], 0)
    second = world.file(factory, world.shops[0], 5)
    form = _link_form(page(client, world.station, second))
    assert client.post(form.pop("action"), data=form).status_code == 303
    return first, second


def _unlink_form(text: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="([^"]+/unlink)" id="unlink-form">(.*?)</form>', text, re.S)
    assert form, "no unlink form on the page"
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(2)))
    return {"action": form.group(1), **fields, "reason": REASON}


def _undone(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Event).where(Event.kind.like("unmerged%"))) or 0


def test_station_undoes_a_link_and_the_shopper_is_told(
    app: Flask, client: FlaskClient, session: Session, factory: Factory, world: World
) -> None:
    first, second = _linked(client, factory, world)
    form = _unlink_form(page(client, world.station, second))
    assert "不是同一件事？撤销并案" in page(client, world.station, second)
    response = client.post(form.pop("action"), data=form)
    assert response.status_code == 303
    session.expire_all()
    reopened = session.get(Complaint, second.id)
    assert reopened is not None and (reopened.status, reopened.linked_to_id) == ("new", None)
    assert reopened.stage == "respond" and reopened.stage_due_at is not None
    assert verify_chains(session, app.config["PHONE_SALT"])[1] is None
    after = client.get(f"/office/complaints/{second.case_number}").text
    assert "已撤销并案" in after and f"已撤销与 {first.case_number} 的并案，并非同一件事：" in after
    assert REASON in after and 'id="linked-to"' not in after and 'id="unlink-form"' not in after
    assert f"已撤销投诉 {second.case_number} 的并案" in page(client, world.station, first)
    # The shopper's receipt: open again, no pointer to the other case, and never the staff's reason.
    track = client.get(f"/t/{world.token[second.id]}").text
    assert f"经核实，此投诉与您的投诉 {first.case_number} 并非同一件事" in track
    assert 'id="continues"' not in track and REASON not in track
    other = client.get(f"/t/{world.token[first.id]}").text
    assert f"经核实，您的投诉 {second.case_number} 与本案并非同一件事" in other and REASON not in other


def test_undo_out_of_scope_is_404_and_merchants_are_refused(
    client: FlaskClient, session: Session, factory: Factory, world: World
) -> None:
    _first, second = _linked(client, factory, world)
    form = _unlink_form(page(client, world.station, second))
    action = form.pop("action")
    login_as(client, world.stranger)
    assert client.post(action, data=form).status_code == 404
    login_as(client, world.merchant_user)
    assert client.post(action, data=form).status_code == 403
    merchant_page = page(client, world.merchant_user, second)
    assert "unlink-form" not in merchant_page and "撤销并案" not in merchant_page
    assert _undone(session) == 0


def test_undo_needs_the_csrf_token(
    app: Flask, client: FlaskClient, session: Session, factory: Factory, world: World
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    _first, second = _linked(client, factory, world)
    form = _unlink_form(page(client, world.station, second))
    action = form.pop("action")
    assert client.post(action, data={**form, "csrf_token": "forged"}).status_code == 400
    assert _undone(session) == 0
    assert client.post(action, data=form).status_code == 303
    assert _undone(session) == 2


def test_a_missing_reason_or_a_stale_page_keeps_what_was_typed(
    client: FlaskClient, session: Session, factory: Factory, world: World
) -> None:
    first, second = _linked(client, factory, world)
    form = _unlink_form(page(client, world.station, second))
    action = form.pop("action")
    empty = client.post(action, data={**form, "reason": ""})
    assert empty.status_code == 400 and "请检查表单" in empty.text
    assert '<details class="fold" open><summary>不是同一件事？撤销并案' in empty.text
    stale = client.post(action, data={**form, "other_version": str(int(form["other_version"]) - 1)})
    assert stale.status_code == 409 and "其他人刚刚修改了此案件" in stale.text and REASON in stale.text
    assert _undone(session) == 0
    # Sent again from the page as it is now, it goes through.
    again = _unlink_form(stale.text)
    assert client.post(again.pop("action"), data=again).status_code == 303
    assert _undone(session) == 2 and first.id
