"""POST /c/<code> and intake.submit: one transaction, a 303 to the receipt, a readable number."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.casenumbers import token_hash
from portal.clock import Policy
from portal.intake import Receipt, Submission, Target, prepare, submit
from portal.models import CaseCounter, Complaint, Event
from portal.storage import LocalStore
from portal.workdays import WorkCalendar
from tests.conftest import NOW
from tests.factories import Factory, complaint_form

TOKEN_URL = re.compile(r"^/t/([A-Za-z0-9_-]+)\?new=1$")


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


def _count(session: Session, model: type[Any]) -> int:
    session.rollback()  # see what other connections committed
    return session.scalar(select(func.count()).select_from(model)) or 0


def _only_case(session: Session) -> Complaint:
    session.rollback()  # end the factory's read snapshot; see what the request committed
    return session.scalars(select(Complaint)).one()


def _store(session: Session, sub: Submission, target: Target, now: datetime, **options: Any) -> Receipt:
    """Call the service as the views do, without photos."""
    store = LocalStore("/nonexistent")
    return submit(
        session, sub, target, photos=[], store=store, now=now, secret="s" * 32, salt="s" * 32, **options
    )


def _submit_at(session: Session, factory: Factory, now: datetime, **extra: Any) -> str:
    merchant = extra.pop("merchant", None) or factory.make_merchant()
    sub = Submission(
        kind="complaint",
        category="quality",
        description="瓷砖有裂纹，商家拒绝退换。",
        idempotency_key=secrets.token_urlsafe(24),
        phone="13800138000",
        **extra,
    )
    target = Target(merchant.unit_id, merchant, merchant.market, factory.poster_of(merchant).id)
    receipt = _store(session, sub, target, now)
    session.commit()
    return receipt.complaint.case_number


def test_post_stores_the_case_and_redirects_to_the_receipt(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    merchant = factory.make_merchant(name="张记瓷砖")
    response = client.post(
        f"/c/{factory.poster_of(merchant).code}",
        data=complaint_form(
            description="瓷砖有裂纹，商家拒绝退换。",
            amount="１２８.５",
            phone="+86 138 0013 8000",
            wish="refund",
            on_site="y",
        ),
    )
    assert response.status_code == 303
    match = TOKEN_URL.match(response.headers["Location"])
    assert match, response.headers["Location"]
    complaint = _only_case(session)
    assert complaint.merchant_id == merchant.id and complaint.market_id == merchant.market_id
    assert complaint.phone == "13800138000" and complaint.phone_last4 == "8000"
    assert complaint.amount_fen == 12850
    assert complaint.wish == "refund" and complaint.on_site is True
    assert complaint.name == "李女士"
    assert complaint.status == "new" and complaint.rung == "merchant" and complaint.stage == "respond"
    assert complaint.stage_due_at == complaint.created_at + timedelta(minutes=45)
    assert complaint.tracking_hash == token_hash(match.group(1))
    events = session.scalars(select(Event)).all()
    assert [(e.kind, e.public, e.actor_role) for e in events] == [("submitted", True, "shopper")]
    assert "13800138000" not in str(events[0].data)


def test_token_is_long_random_and_free_of_the_phone(client: FlaskClient, factory: Factory) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    tokens = []
    for phone in ("13800138000", "13912345678"):
        response = client.post(f"/c/{code}", data=complaint_form(phone=phone))
        token = TOKEN_URL.match(response.headers["Location"]).group(1)  # type: ignore[union-attr]
        tokens.append(token)
        assert len(token) * 6 >= 128  # base64url: 6 bits a character
        assert phone not in token and phone[-4:] not in response.headers["Location"]
    assert tokens[0] != tokens[1]


def test_complaint_and_first_event_are_one_transaction(
    app_config: dict[str, Any], factory: Factory, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal import create_app

    app = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False})
    merchant = factory.make_merchant()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("event table on fire")

    monkeypatch.setattr("portal.intake.ChainWriter.append", broken)
    response = app.test_client().post(f"/c/{factory.poster_of(merchant).code}", data=complaint_form())
    app.extensions["kuaisu.engine"].dispose()
    assert response.status_code == 500
    assert "12315" in response.get_data(as_text=True)
    assert _count(session, Complaint) == 0
    assert _count(session, Event) == 0
    assert _count(session, CaseCounter) == 0


def test_a_case_prepared_before_the_lock_is_stored_as_prepared(session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    target = Target(merchant.unit_id, merchant, merchant.market, factory.poster_of(merchant).id)
    session.commit()
    sub = Submission(
        kind="complaint",
        category="quality",
        description="瓷砖有裂纹，商家拒绝退换。",
        idempotency_key=secrets.token_urlsafe(24),
        phone="13800138000",
        on_site=True,
    )
    case = prepare(sub, target, now=NOW, secret="s" * 32, policy=Policy(), calendar=WorkCalendar({}))
    # Worked out without the database (prepare takes no session): no number and no id yet,
    # the clock already set.
    assert case.complaint.case_number is None and case.complaint.id is None
    assert case.complaint.stage_due_at == NOW + timedelta(minutes=45)
    assert "13800138000" not in case.token
    receipt = _store(session, sub, target, NOW, policy=Policy(), calendar=WorkCalendar({}), prepared=case)
    session.commit()
    stored = _only_case(session)
    assert receipt.token == case.token and stored.tracking_hash == token_hash(case.token)
    assert stored.case_number.startswith("KS") and stored.on_site
    assert stored.stage_due_at == case.complaint.stage_due_at
    # The same form again is the same case, whatever was prepared for it.
    again = prepare(sub, target, now=NOW, secret="s" * 32, policy=Policy(), calendar=WorkCalendar({}))
    retried = _store(session, sub, target, NOW, prepared=again)
    assert not retried.created and retried.complaint.id == stored.id


def test_case_number_format_and_daily_sequence(session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    day = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    numbers = [_submit_at(session, factory, day + timedelta(minutes=i), merchant=merchant) for i in range(3)]
    assert numbers == ["KS20261122-0001", "KS20261122-0002", "KS20261122-0003"]
    assert all(re.fullmatch(r"KS\d{8}-\d{4}", n) for n in numbers)
    assert _submit_at(session, factory, day + timedelta(days=1), merchant=merchant) == ("KS20261123-0001")


def test_case_number_follows_the_shanghai_date_across_utc_midnight(
    session: Session, factory: Factory
) -> None:
    merchant = factory.make_merchant()
    before = datetime(2026, 11, 22, 15, 59, tzinfo=UTC)  # 23:59 on the 22nd in Shanghai
    after = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)  # 00:30 on the 23rd in Shanghai
    assert _submit_at(session, factory, before, merchant=merchant) == "KS20261122-0001"
    assert _submit_at(session, factory, after, merchant=merchant) == "KS20261123-0001"
    late_utc = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)  # still the 23rd in Shanghai
    assert _submit_at(session, factory, late_utc, merchant=merchant) == "KS20261123-0002"


def test_report_may_be_anonymous_and_goes_to_the_regulator(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    merchant = factory.make_merchant()
    response = client.post(
        f"/c/{factory.poster_of(merchant).code}",
        data=complaint_form(
            kind="report",
            phone="",
            name="",
            consent=None,
            category="price",
            description="明码标价与实际收费不一致，多收了钱。",
        ),
    )
    assert response.status_code == 303
    complaint = _only_case(session)
    assert complaint.kind == "report" and complaint.phone is None and complaint.name is None
    assert complaint.rung == "regulator" and complaint.stage == "verify"


def test_market_poster_with_chosen_shop(client: FlaskClient, factory: Factory, session: Session) -> None:
    market = factory.make_market()
    tiles = factory.make_merchant(market=market)
    code = factory.poster_of(market=market).code
    assert client.post(f"/c/{code}", data=complaint_form(shop=str(tiles.id))).status_code == 303
    complaint = _only_case(session)
    assert complaint.merchant_id == tiles.id and complaint.market_id == market.id
    assert complaint.poster_code_id == factory.poster_of(market=market).id


def test_market_poster_ignores_a_shop_of_another_market(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    market = factory.make_market(name="万博装饰市场")
    stranger = factory.make_merchant(market=factory.make_market(name="紫金街农贸市场"))
    code = factory.poster_of(market=market).code
    assert client.post(f"/c/{code}", data=complaint_form(shop=str(stranger.id))).status_code == 303
    complaint = _only_case(session)
    assert complaint.merchant_id is None and complaint.market_id == market.id
    assert complaint.rung == "station"


def test_receipt_shows_number_next_steps_and_keep_the_link(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    merchant = factory.make_merchant()
    response = client.post(f"/c/{factory.poster_of(merchant).code}", data=complaint_form(on_site="y"))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    complaint = _only_case(session)
    assert complaint.case_number in page
    assert "请保存此链接" in page
    assert "后 4 位" in page
    created = complaint.created_at.astimezone(NOW.tzinfo)
    from portal.i18n import shanghai

    reply_by = shanghai(created + timedelta(minutes=45)).strftime("%H:%M")  # type: ignore[union-attr]
    onsite_by = shanghai(created + timedelta(minutes=90)).strftime("%H:%M")  # type: ignore[union-attr]
    assert f"{reply_by} 前" in page
    assert onsite_by in page
    english = client.get(response.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "Keep this link" in english and f"by {reply_by}" in english


def test_app_is_reachable_for_other_tests(app: Flask) -> None:
    assert app.config["TESTING"] is True
