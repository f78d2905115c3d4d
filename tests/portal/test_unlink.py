"""Undoing a link made by mistake: the merged case reopens, clocks restart, nothing is deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import verify_chains
from portal.cli import cli
from portal.closing import close, hide, record_outcome
from portal.duplicates import NotLinkedError, link_duplicate, unlink_duplicate
from portal.lifecycle import (
    ActionNotAllowedError,
    InvalidStepError,
    StaleCaseError,
    take,
)
from portal.metrics_query import count_sets, metric_context
from portal.models import Complaint, Event, Merchant, StageClock, User
from portal.signals import SignalPolicy, possible_duplicates
from tests.conftest import NOW
from tests.factories import Factory, make_user

HOUR = timedelta(hours=1)
POLICY = SignalPolicy()
MERGED_AT = NOW + 4 * HOUR
UNDONE_AT = NOW + 30 * HOUR
REASON = "两次投诉是不同的订单：一次瓷砖，一次地板。"


def _pair(factory: Factory, merchant: Merchant) -> tuple[Complaint, Complaint]:
    first = factory.make_complaint(merchant, now=NOW).complaint
    second = factory.make_complaint(merchant, now=NOW + 3 * HOUR).complaint
    return first, second


def _link(
    session: Session, factory: Factory, first: Complaint, second: Complaint, user: User, at: datetime
) -> None:
    link_duplicate(
        session,
        first,
        second,
        user,
        version=first.version,
        other_version=second.version,
        now=at,
        salt=factory.salt,
        policy=POLICY,
    )
    session.commit()


def _unlink(
    session: Session, factory: Factory, second: Complaint, first: Complaint, user: User, **over: object
) -> Event:
    values: dict[str, object] = {
        "version": second.version,
        "other_version": first.version,
        "now": UNDONE_AT,
        "salt": factory.salt,
    }
    values.update(over)
    reason = str(values.pop("reason", REASON))
    return unlink_duplicate(session, second, first, user, reason, **values)  # type: ignore[arg-type]


def _running(session: Session, case: Complaint) -> list[StageClock]:
    where = (StageClock.complaint_id == case.id, StageClock.stopped_at.is_(None))
    return list(session.scalars(select(StageClock).where(*where).order_by(StageClock.id)))


@pytest.fixture
def merchant(factory: Factory) -> Merchant:
    return factory.make_merchant()


@pytest.fixture
def station(session: Session, merchant: Merchant) -> User:
    return make_user(session, "station", market=merchant.market)


def test_undo_reopens_the_case_with_fresh_clocks_and_keeps_both_histories(
    app: Flask, session: Session, factory: Factory, merchant: Merchant, station: User
) -> None:
    first, second = _pair(factory, merchant)
    running_before = [clock.stage for clock in _running(session, second)]
    _link(session, factory, first, second, station, MERGED_AT)
    kept = [e.id for e in session.scalars(select(Event).where(Event.kind.like("merged%")))]
    event = _unlink(session, factory, second, first, station)
    session.commit()

    assert (second.status, second.linked_to_id, second.closed_at) == ("new", None, None)
    assert first.status == "new" and first.linked_to_id is None
    # The clocks the merge stopped start again from the undo, each with its full time.
    restarted = _running(session, second)
    assert [clock.stage for clock in restarted] == running_before and restarted
    assert {clock.started_at for clock in restarted} == {UNDONE_AT}
    respond = next(clock for clock in restarted if clock.stage == "respond")
    assert respond.due_at == UNDONE_AT + timedelta(minutes=45)
    assert (second.stage, second.stage_due_at) == ("respond", UNDONE_AT + timedelta(minutes=45))
    merged = session.scalars(select(StageClock).where(StageClock.stop_reason == "merged")).all()
    assert {clock.stopped_at for clock in merged} == {MERGED_AT}  # the stopped ones stay as they were
    # Append-only: the merge events stay, the undo is one new event on each timeline.
    assert [e.id for e in session.scalars(select(Event).where(Event.kind.like("merged%")))] == kept
    assert (event.kind, event.public, event.body, event.data) == (
        "unmerged",
        True,
        REASON,
        {"from": first.case_number},
    )
    out = session.scalars(
        select(Event).where(Event.complaint_id == first.id, Event.kind == "unmerged_out")
    ).one()
    assert out.public and out.data == {"case": second.case_number} and out.actor_id == station.id
    assert verify_chains(session, factory.salt)[1] is None
    assert app.test_cli_runner().invoke(cli, ["audit", "verify"]).exit_code == 0
    # The pair is suggested again.
    everything = Complaint.id.is_not(None)
    assert [c.id for c in possible_duplicates(session, second, POLICY, everything)] == [first.id]


def test_a_taken_case_reopens_red_and_answered_clocks_stay_stopped(
    session: Session, factory: Factory, merchant: Merchant, station: User
) -> None:
    first, second = _pair(factory, merchant)
    take(
        session,
        second,
        station,
        version=second.version,
        now=NOW + 3 * HOUR + timedelta(minutes=10),
        salt=factory.salt,
    )
    session.commit()
    assert "respond" not in [clock.stage for clock in _running(session, second)]
    _link(session, factory, first, second, station, MERGED_AT)
    _unlink(session, factory, second, first, station)
    session.commit()
    assert second.status == "handling" and second.assignee_id == station.id
    stages = [clock.stage for clock in _running(session, second)]
    assert stages == ["feedback"] and second.stage == "feedback"


def test_linking_again_and_undoing_again_restarts_only_the_last_merges_clocks(
    session: Session, factory: Factory, merchant: Merchant, station: User
) -> None:
    first, second = _pair(factory, merchant)
    _link(session, factory, first, second, station, MERGED_AT)
    _unlink(session, factory, second, first, station)
    session.commit()
    # Answered between the two links: the respond clock the first merge stopped stays stopped.
    take(session, second, station, version=second.version, now=UNDONE_AT + HOUR / 2, salt=factory.salt)
    session.commit()
    _link(session, factory, first, second, station, UNDONE_AT + HOUR)
    again = UNDONE_AT + 2 * HOUR
    _unlink(session, factory, second, first, station, now=again)
    session.commit()
    running = _running(session, second)
    assert {clock.started_at for clock in running} == {again}
    assert [clock.stage for clock in running] == ["feedback"]


def test_the_case_that_continued_may_have_closed_since(
    session: Session, factory: Factory, merchant: Merchant, station: User
) -> None:
    first, second = _pair(factory, merchant)
    _link(session, factory, first, second, station, MERGED_AT)
    record_outcome(
        session,
        first,
        station,
        "mediated",
        1000,
        version=first.version,
        now=NOW + 5 * HOUR,
        salt=factory.salt,
    )
    close(session, first, station, version=first.version, now=NOW + 6 * HOUR, salt=factory.salt)
    session.commit()
    _unlink(session, factory, second, first, station)
    session.commit()
    assert first.status == "closed" and second.status == "new"


def test_undo_is_refused_when_it_does_not_fit(
    session: Session, factory: Factory, merchant: Merchant, station: User
) -> None:
    first, second = _pair(factory, merchant)
    third = factory.make_complaint(merchant, now=NOW + 5 * HOUR).complaint
    shop_user = make_user(session, "merchant", merchant=merchant)
    with pytest.raises(NotLinkedError):  # nothing linked yet
        _unlink(session, factory, second, first, station)
    session.rollback()
    _link(session, factory, first, second, station, MERGED_AT)
    with pytest.raises(ActionNotAllowedError):
        _unlink(session, factory, second, first, shop_user)
    with pytest.raises(NotLinkedError):  # linked into another case than the one named
        _unlink(session, factory, second, third, station, other_version=third.version)
    with pytest.raises(StaleCaseError):
        _unlink(session, factory, second, first, station, other_version=first.version + 1)
    with pytest.raises(StaleCaseError):
        _unlink(session, factory, second, first, station, version=second.version - 1)
    with pytest.raises(InvalidStepError):
        _unlink(session, factory, second, first, station, reason="   ")
    session.rollback()
    hide(
        session,
        second,
        station,
        "恶意重复提交",
        version=second.version,
        now=NOW + 5 * HOUR,
        salt=factory.salt,
    )
    session.commit()
    with pytest.raises(NotLinkedError):  # a hidden case stays closed
        _unlink(session, factory, second, first, station)
    session.rollback()
    assert session.scalar(select(Event.id).where(Event.kind.like("unmerged%"))) is None
    assert second.linked_to_id == first.id and second.status == "closed"


def test_clocks_the_merge_stopped_give_no_verdict_on_their_stages(
    session: Session, factory: Factory, merchant: Merchant, station: User
) -> None:
    """Neither on time nor late: the merge handed the duty to the continuing case, and the
    clocks restarted by the undo are still running."""
    first, second = _pair(factory, merchant)
    _link(session, factory, first, second, station, MERGED_AT)
    _unlink(session, factory, second, first, station)
    session.commit()
    ctx = metric_context(session, UNDONE_AT + timedelta(minutes=1))
    counts = count_sets(session, [Complaint.id == second.id], ctx).get((), {})
    for stage in ("respond", "feedback"):
        assert counts.get(f"decided_{stage}", 0) == 0, stage
        assert counts.get(f"late_{stage}", 0) == 0, stage
        assert counts.get(f"ontime_{stage}", 0) == 0, stage
