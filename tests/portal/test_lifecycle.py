"""Every staff action and shopper answer: its event, its role rules, stale forms, races."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import verify_chains
from portal.closing import close, hide, pending_proposal, propose, record_callback, record_outcome
from portal.db import begin_write, new_session
from portal.lifecycle import (
    ActionNotAllowedError,
    AlreadyTakenError,
    CaseClosedError,
    InvalidStepError,
    StaleCaseError,
    add_note,
    record_arrival,
    reply,
    set_canned_replies,
    take,
)
from portal.models import Complaint, Event, Market, Merchant, User
from portal.resolution import (
    AlreadyRatedError,
    NoPendingProposalError,
    accept_proposal,
    rate,
    reject_proposal,
)
from tests.conftest import NOW
from tests.factories import Factory, make_user

SALT = "test-secret-key-0123456789abcdef"
LATER = NOW + timedelta(minutes=5)


@dataclass
class Case:
    """A fresh complaint with one user of each working role in its scope."""

    complaint: Complaint
    merchant_user: User
    station: User
    regulator: User


@pytest.fixture
def case(session: Session, factory: Factory) -> Case:
    merchant = factory.make_merchant()
    complaint = factory.make_complaint(merchant).complaint
    assert merchant.market is not None
    return Case(
        complaint,
        make_user(session, "merchant", merchant=merchant, name="张老板"),
        make_user(session, "station", market=merchant.market, name="王站长"),
        make_user(session, "regulator", unit=merchant.unit, name="李科员"),
    )


def last_event(session: Session, complaint: Complaint) -> Event:
    return session.scalars(
        select(Event).where(Event.complaint_id == complaint.id).order_by(Event.seq.desc())
    ).first()  # type: ignore[return-value]


def closed_case(session: Session, case: Case) -> Complaint:
    c = case.complaint
    record_outcome(session, c, case.station, "mediated", 12850, version=c.version, now=NOW, salt=SALT)
    close(session, c, case.station, version=c.version, now=LATER, salt=SALT)
    session.commit()
    return c


def test_take_names_the_taker_and_turns_red(session: Session, case: Case) -> None:
    c = case.complaint
    event = take(session, c, case.station, version=1, now=LATER, salt=SALT)
    session.commit()
    assert (event.kind, event.public, event.actor_id, event.actor_role) == (
        "taken",
        True,
        case.station.id,
        "station",
    )
    assert (c.status, c.assignee_id) == ("handling", case.station.id)
    assert c.version > 1  # the form of anyone who loaded version 1 is now stale
    assert c.first_response_at == LATER  # portal.stages heard of the take


def test_second_take_is_refused(session: Session, case: Case) -> None:
    take(session, case.complaint, case.merchant_user, version=1, now=LATER, salt=SALT)
    with pytest.raises(AlreadyTakenError):
        take(session, case.complaint, case.station, version=case.complaint.version, now=LATER, salt=SALT)


def test_reply_is_public_and_turns_a_new_case_red(session: Session, case: Case) -> None:
    c = case.complaint
    event = reply(session, c, case.merchant_user, "  您好，我们马上处理。 ", version=1, now=LATER, salt=SALT)
    assert (event.kind, event.public, event.body, event.actor_role) == (
        "reply",
        True,
        "您好，我们马上处理。",
        "merchant",
    )
    assert (c.status, c.assignee_id) == ("handling", case.merchant_user.id)


def test_blank_reply_is_refused(session: Session, case: Case) -> None:
    with pytest.raises(InvalidStepError):
        reply(session, case.complaint, case.station, "   ", version=1, now=LATER, salt=SALT)


def test_note_is_internal_and_leaves_the_colour(session: Session, case: Case) -> None:
    event = add_note(session, case.complaint, case.station, "商户电话无人接", version=1, now=LATER, salt=SALT)
    assert (event.kind, event.public, event.actor_id) == ("note", False, case.station.id)
    assert case.complaint.status == "new"


def test_arrival_records_the_given_time_today(session: Session, case: Case) -> None:
    c = case.complaint
    at = NOW + timedelta(minutes=2)
    event = record_arrival(session, c, case.station, at=at, version=1, now=LATER, salt=SALT)
    assert (event.kind, event.public, event.data) == ("arrived", True, {"local_time": "14:02"})
    assert c.onsite_at == at
    assert c.status == "handling"


@pytest.mark.parametrize(
    "at", [LATER + timedelta(minutes=1), NOW - timedelta(minutes=1), NOW - timedelta(days=1)]
)
def test_arrival_in_the_future_or_before_the_case_is_refused(
    session: Session, case: Case, at: object
) -> None:
    with pytest.raises(InvalidStepError):
        record_arrival(
            session,
            case.complaint,
            case.station,
            at=at,
            version=1,
            now=LATER,  # type: ignore[arg-type]
            salt=SALT,
        )


def test_merchant_does_not_record_arrival(session: Session, case: Case) -> None:
    with pytest.raises(ActionNotAllowedError):
        record_arrival(session, case.complaint, case.merchant_user, at=LATER, version=1, now=LATER, salt=SALT)


def test_proposal_is_public_with_its_amount(session: Session, case: Case) -> None:
    event = propose(
        session, case.complaint, case.merchant_user, "退货退款", 12850, version=1, now=LATER, salt=SALT
    )
    assert (event.kind, event.public, event.body, event.data) == (
        "proposed",
        True,
        "退货退款",
        {"amount_fen": 12850},
    )
    assert pending_proposal(session, case.complaint) is event
    assert case.complaint.feedback_at == LATER


def test_outcome_records_money_recovered(session: Session, case: Case) -> None:
    c = case.complaint
    event = record_outcome(
        session, c, case.station, "mediated", 12850, explanation="商家退款", version=1, now=LATER, salt=SALT
    )
    assert (event.kind, event.public, event.body) == ("outcome", True, "商家退款")
    assert event.data == {"outcome": "mediated", "recovered_fen": 12850}
    assert (c.outcome, c.recovered_fen, c.status) == ("mediated", 12850, "handling")


def test_merchant_may_only_self_settle(session: Session, case: Case) -> None:
    with pytest.raises(ActionNotAllowedError):
        record_outcome(
            session, case.complaint, case.merchant_user, "mediated", None, version=1, now=LATER, salt=SALT
        )
    event = record_outcome(
        session, case.complaint, case.merchant_user, "self_settled", 0, version=1, now=LATER, salt=SALT
    )
    assert event.actor_role == "merchant"


def test_unknown_outcome_is_refused(session: Session, case: Case) -> None:
    with pytest.raises(InvalidStepError):
        record_outcome(session, case.complaint, case.station, "won", None, version=1, now=LATER, salt=SALT)


def test_closing_needs_an_outcome(session: Session, case: Case) -> None:
    with pytest.raises(InvalidStepError):
        close(session, case.complaint, case.station, version=1, now=LATER, salt=SALT)


def test_close_turns_green_and_stops_the_clock(session: Session, case: Case) -> None:
    c = closed_case(session, case)
    event = last_event(session, c)
    assert (event.kind, event.public, event.actor_id) == ("closed", True, case.station.id)
    assert (c.status, c.closed_at) == ("closed", LATER)


def test_a_closed_case_takes_no_more_replies(session: Session, case: Case) -> None:
    c = closed_case(session, case)
    with pytest.raises(CaseClosedError):
        reply(session, c, case.station, "还有问题吗", version=c.version, now=LATER, salt=SALT)
    assert (
        add_note(session, c, case.station, "已归档", version=c.version, now=LATER, salt=SALT).kind == "note"
    )


def test_hide_needs_station_or_regulator_and_a_reason(session: Session, case: Case) -> None:
    c = case.complaint
    with pytest.raises(ActionNotAllowedError):
        hide(session, c, case.merchant_user, "重复", version=1, now=LATER, salt=SALT)
    with pytest.raises(InvalidStepError):
        hide(session, c, case.regulator, "  ", version=1, now=LATER, salt=SALT)
    event = hide(session, c, case.regulator, "重复投诉", version=1, now=LATER, salt=SALT)
    session.commit()
    assert (event.kind, event.public, event.body) == ("hidden", False, "重复投诉")
    assert (c.hidden_at, c.hidden_reason) == (LATER, "重复投诉")
    # Never deleted: the row is still there for statistics.
    assert session.get(Complaint, c.id) is not None


def test_callback_is_the_stations_after_closing(session: Session, case: Case) -> None:
    c = case.complaint
    with pytest.raises(InvalidStepError):
        record_callback(
            session, c, case.station, reached=True, satisfied=True, version=1, now=LATER, salt=SALT
        )
    closed_case(session, case)
    with pytest.raises(ActionNotAllowedError):
        record_callback(
            session, c, case.regulator, reached=True, satisfied=True, version=c.version, now=LATER, salt=SALT
        )
    event = record_callback(
        session,
        c,
        case.station,
        reached=True,
        satisfied=False,
        note="认为赔偿偏少",
        version=c.version,
        now=LATER,
        salt=SALT,
    )
    assert (event.kind, event.public, event.body) == ("callback", False, "认为赔偿偏少")
    assert event.data == {"reached": True, "satisfied": False}


def test_a_stale_form_is_refused_and_writes_nothing(session: Session, case: Case) -> None:
    c = case.complaint
    take(session, c, case.station, version=1, now=LATER, salt=SALT)
    session.commit()
    events = len(list(session.scalars(select(Event).where(Event.complaint_id == c.id))))
    with pytest.raises(StaleCaseError):
        reply(session, c, case.merchant_user, "您好", version=1, now=LATER, salt=SALT)
    session.rollback()
    assert len(list(session.scalars(select(Event).where(Event.complaint_id == c.id)))) == events


def test_the_version_counter_stops_a_lost_update(app: Flask, session: Session, case: Case) -> None:
    """Two staff loaded the case; the second write finds the row changed under it."""
    cid, first, second = case.complaint.id, case.station.id, case.merchant_user.id
    with app.app_context():
        late = new_session()
        stale = late.get(Complaint, cid)
        late_user = late.get(User, second)
        late.commit()  # ends the read; the loaded (now outdated) objects stay in memory
        early = new_session(write=True)
        take(
            early,
            early.get(Complaint, cid),
            early.get(User, first),  # type: ignore[arg-type]
            version=1,
            now=LATER,
            salt=SALT,
        )
        early.commit()
        early.close()
        begin_write(late)
        with pytest.raises(StaleCaseError):
            take(late, stale, late_user, version=1, now=LATER, salt=SALT)  # type: ignore[arg-type]
        late.rollback()
        late.close()


def test_two_simultaneous_takes_exactly_one_wins(app: Flask, case: Case) -> None:
    cid = case.complaint.id
    takers = [case.station.id, case.merchant_user.id]
    results: list[str] = []
    gate = threading.Barrier(2)

    def attempt(user_id: int) -> None:
        with app.app_context():
            db = new_session()
            gate.wait()
            begin_write(db)  # as every POST request does
            try:
                take(
                    db,
                    db.get(Complaint, cid),
                    db.get(User, user_id),  # type: ignore[arg-type]
                    version=1,
                    now=LATER,
                    salt=SALT,
                )
                db.commit()
                results.append("taken")
            except StaleCaseError:
                db.rollback()
                results.append("stale")
            finally:
                db.close()

    threads = [threading.Thread(target=attempt, args=(uid,)) for uid in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["stale", "taken"]
    with app.app_context():
        db = new_session()
        stored = db.get(Complaint, cid)
        assert stored is not None and stored.assignee_id in takers and stored.version > 1
        kinds = list(db.scalars(select(Event.kind).where(Event.complaint_id == cid)))
        assert kinds.count("taken") == 1
        db.close()


def test_shopper_accepts_the_open_offer(session: Session, case: Case) -> None:
    c = case.complaint
    offer = propose(session, c, case.merchant_user, "换货", None, version=1, now=NOW, salt=SALT)
    session.commit()
    with pytest.raises(NoPendingProposalError):
        accept_proposal(session, c, proposal_seq=offer.seq + 5, now=LATER, salt=SALT)
    event = accept_proposal(session, c, proposal_seq=offer.seq, now=LATER, salt=SALT)
    assert (event.kind, event.public, event.actor_role, event.actor_id) == ("accepted", True, "shopper", None)
    assert pending_proposal(session, c) is None


def test_rejection_reopens_a_closed_case_and_climbs(session: Session, case: Case) -> None:
    c = case.complaint
    offer = propose(session, c, case.station, "退一半", 6400, version=1, now=NOW, salt=SALT)
    closed_case(session, case)
    rung_before = c.rung
    event = reject_proposal(session, c, proposal_seq=offer.seq, reason="要全额退款", now=LATER, salt=SALT)
    assert (event.kind, event.public, event.body) == ("rejected", True, "要全额退款")
    assert event.data == {"proposal": offer.seq, "reopened": True}
    # Reopened, then climbed: at the station it is new (black) until someone there takes it.
    assert (c.status, c.closed_at, c.outcome) == ("new", None, None)
    # The rejection climbs one rung of the ladder (merchant → station → regulator).
    kinds = list(session.scalars(select(Event.kind).where(Event.complaint_id == c.id).order_by(Event.seq)))
    assert "escalated" in kinds[kinds.index("rejected") :]
    assert (rung_before, c.rung) == ("merchant", "station")
    with pytest.raises(NoPendingProposalError):
        accept_proposal(session, c, proposal_seq=offer.seq, now=LATER, salt=SALT)


def test_rating_is_given_once_after_closing(session: Session, case: Case) -> None:
    c = case.complaint
    with pytest.raises(InvalidStepError):
        rate(session, c, score=5, comment="", now=LATER, salt=SALT)
    closed_case(session, case)
    event = rate(session, c, score=4, comment="处理及时", now=LATER, salt=SALT)
    session.commit()
    assert (event.kind, event.public, event.data, event.body) == ("rated", True, {"score": 4}, "处理及时")
    assert (c.satisfaction, c.rating_comment, c.rated_at) == (4, "处理及时", LATER)
    with pytest.raises(AlreadyRatedError):
        rate(session, c, score=1, comment="", now=LATER, salt=SALT)


def test_score_out_of_range_is_refused(session: Session, case: Case) -> None:
    closed_case(session, case)
    with pytest.raises(InvalidStepError):
        rate(session, case.complaint, score=6, comment="", now=LATER, salt=SALT)


def test_canned_replies_belong_to_the_stations_market(session: Session, case: Case, factory: Factory) -> None:
    market = session.get(Market, case.station.market_id)
    assert market is not None
    set_canned_replies(
        session, market, case.station, ["您好，已收到。", "", "您好，已收到。", " 站里马上联系商户 "]
    )
    assert market.canned_replies == ["您好，已收到。", "站里马上联系商户"]
    other = factory.make_market(name="紫金街农贸市场")
    with pytest.raises(ActionNotAllowedError):
        set_canned_replies(session, other, case.station, ["x"])
    with pytest.raises(ActionNotAllowedError):
        set_canned_replies(session, market, case.merchant_user, ["x"])


def test_every_step_keeps_the_chain_valid(session: Session, case: Case) -> None:
    c = case.complaint
    take(session, c, case.station, version=1, now=NOW, salt=SALT)
    reply(session, c, case.station, "您好", version=c.version, now=NOW, salt=SALT)
    add_note(session, c, case.station, "内部", version=c.version, now=NOW, salt=SALT)
    record_arrival(session, c, case.station, at=NOW, version=c.version, now=NOW, salt=SALT)
    offer = propose(session, c, case.station, "退款", 100, version=c.version, now=NOW, salt=SALT)
    accept_proposal(session, c, proposal_seq=offer.seq, now=NOW, salt=SALT)
    record_outcome(session, c, case.station, "mediated", 100, version=c.version, now=NOW, salt=SALT)
    close(session, c, case.station, version=c.version, now=NOW, salt=SALT)
    record_callback(
        session, c, case.station, reached=True, satisfied=True, version=c.version, now=NOW, salt=SALT
    )
    rate(session, c, score=5, comment="", now=NOW, salt=SALT)
    hide(session, c, case.station, "测试数据", version=c.version, now=NOW, salt=SALT)
    session.commit()
    checked, broken = verify_chains(session, SALT)
    assert broken is None and checked == 12
    assert session.get(Merchant, c.merchant_id) is not None
