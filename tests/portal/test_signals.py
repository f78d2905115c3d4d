"""Repeat phones and possible duplicates, and linking a duplicate: the services, at exact times."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from portal.audit import verify_chains
from portal.cli import cli
from portal.duplicates import NotDuplicateError, continuing_case, link_duplicate
from portal.lifecycle import ActionNotAllowedError, CaseClosedError, StaleCaseError
from portal.models import Complaint, Event, Merchant, StageClock
from portal.signals import SignalPolicy, densest_window, possible_duplicates, repeat_phone
from tests.conftest import NOW
from tests.factories import Factory, make_user

DAY = timedelta(days=1)
POLICY = SignalPolicy()  # 10 in 7 days, duplicates within 7 days
CLAIMANT = "13912345678"


def _series(
    factory: Factory, shops: list[Merchant], offsets: list[timedelta], phone: str = CLAIMANT
) -> list[Complaint]:
    """File one complaint per offset from NOW, cycling through the shops."""
    return [
        factory.make_complaint(shops[n % len(shops)], now=NOW + offset, phone=phone).complaint
        for n, offset in enumerate(offsets)
    ]


@pytest.fixture
def shops(factory: Factory) -> list[Merchant]:
    market = factory.make_market()
    return [factory.make_merchant(market, name=f"商户{n}") for n in range(5)]


def test_densest_window_includes_both_ends_and_prefers_the_earliest() -> None:
    times = [NOW, NOW + DAY, NOW + 7 * DAY, NOW + 8 * DAY]
    assert densest_window(times, NOW + DAY, 7 * DAY) == (0, 3)  # NOW .. NOW+7d, both ends in
    assert densest_window(times, NOW + 8 * DAY, 7 * DAY) == (1, 4)
    assert densest_window(times, NOW, 7 * DAY) == (0, 3)
    assert densest_window([], NOW, 7 * DAY) == (0, 0)


def test_nine_complaints_in_seven_days_are_not_flagged(
    session: Session, factory: Factory, shops: list[Merchant]
) -> None:
    cases = _series(factory, shops, [n * timedelta(hours=12) for n in range(9)])
    assert all(repeat_phone(session, case, POLICY, true()) is None for case in cases)


def test_the_tenth_complaint_flags_every_case_of_the_window(
    session: Session, factory: Factory, shops: list[Merchant]
) -> None:
    cases = _series(factory, shops, [n * timedelta(hours=12) for n in range(10)])
    for case in (cases[0], cases[5], cases[9]):  # the first of a burst is flagged too
        flag = repeat_phone(session, case, POLICY, true())
        assert flag is not None
        assert (flag.count, flag.merchants, flag.window_days, flag.outside_scope) == (10, 5, 7, 0)
        assert [c.id for c in flag.listed] == [c.id for c in cases]
        assert flag.start == NOW and flag.end == NOW + 7 * DAY


def test_window_edge_exactly_seven_days_counts_one_microsecond_more_does_not(
    session: Session, factory: Factory, shops: list[Merchant]
) -> None:
    nine = _series(factory, shops, [n * timedelta(hours=1) for n in range(9)])
    last = factory.make_complaint(shops[0], now=NOW + 7 * DAY, phone=CLAIMANT).complaint
    flag = repeat_phone(session, last, POLICY, true())
    assert flag is not None and flag.count == 10
    late = factory.make_complaint(
        shops[0], now=NOW + 7 * DAY + timedelta(microseconds=1), phone="13912340000"
    )
    others = _series(factory, shops, [n * timedelta(hours=1) for n in range(9)], phone="13912340000")
    assert repeat_phone(session, late.complaint, POLICY, true()) is None
    assert repeat_phone(session, others[0], POLICY, true()) is None
    assert repeat_phone(session, nine[0], POLICY, true()) is not None


def test_other_phones_and_a_shopper_without_a_phone_never_count(
    session: Session, factory: Factory, shops: list[Merchant]
) -> None:
    _series(factory, shops, [n * timedelta(hours=1) for n in range(9)])
    _series(factory, shops, [n * timedelta(hours=1) for n in range(5)], phone="13800000001")
    report = factory.make_complaint(shops[0], kind="report", phone=None).complaint
    mine = factory.make_complaint(shops[0], now=NOW + 3 * DAY, phone="13800000001").complaint
    assert repeat_phone(session, mine, POLICY, true()) is None
    assert repeat_phone(session, report, POLICY, true()) is None


def test_the_threshold_and_window_come_from_configuration(
    app: Flask, session: Session, factory: Factory
) -> None:
    merchant = factory.make_merchant()
    cases = _series(factory, [merchant], [timedelta(0), 2 * DAY, 2 * DAY + timedelta(hours=1)])
    policy = SignalPolicy.from_config(
        {**app.config, "REPEAT_PHONE_THRESHOLD": 3, "REPEAT_PHONE_WINDOW_DAYS": 2}
    )
    assert policy.repeat_threshold == 3 and policy.repeat_window == 2 * DAY
    assert repeat_phone(session, cases[0], policy, true()) is None  # third case is 2 d 1 h later
    wider = SignalPolicy(repeat_threshold=3, repeat_window=3 * DAY)
    assert repeat_phone(session, cases[0], wider, true()) is not None


def test_cases_outside_the_viewers_scope_are_counted_not_listed(
    session: Session, factory: Factory, shops: list[Merchant]
) -> None:
    elsewhere = factory.make_merchant(factory.make_market(name="紫金街农贸市场"), name="老王水果店")
    here = _series(factory, shops, [n * timedelta(hours=1) for n in range(6)])
    there = _series(factory, [elsewhere], [n * timedelta(hours=2) for n in range(4)])
    scope = Complaint.market_id == shops[0].market_id
    flag = repeat_phone(session, here[0], POLICY, scope)
    assert flag is not None
    assert (flag.count, flag.merchants, flag.visible, flag.outside_scope) == (10, 6, 6, 4)
    assert {c.id for c in flag.listed} == {c.id for c in here}
    assert not {c.id for c in flag.listed} & {c.id for c in there}


def test_duplicates_are_the_same_phone_shop_and_kind_within_the_window(
    session: Session, factory: Factory, shops: list[Merchant]
) -> None:
    first = factory.make_complaint(shops[0], now=NOW).complaint
    same = factory.make_complaint(shops[0], now=NOW + 7 * DAY).complaint
    too_late = factory.make_complaint(shops[0], now=NOW + 7 * DAY + timedelta(seconds=1)).complaint
    other_shop = factory.make_complaint(shops[1], now=NOW + DAY).complaint
    other_phone = factory.make_complaint(shops[0], now=NOW + DAY, phone="13800000001").complaint
    report = factory.make_complaint(shops[0], now=NOW + DAY, kind="report").complaint
    assert [c.id for c in possible_duplicates(session, first, POLICY, true())] == [same.id]
    assert [c.id for c in possible_duplicates(session, same, POLICY, true())] == [first.id, too_late.id]
    assert possible_duplicates(session, other_shop, POLICY, true()) == []
    assert possible_duplicates(session, other_phone, POLICY, true()) == []
    assert possible_duplicates(session, report, POLICY, true()) == []
    shorter = SignalPolicy(duplicate_window=DAY)
    assert possible_duplicates(session, first, shorter, true()) == []


def _pair(factory: Factory, merchant: Merchant) -> tuple[Complaint, Complaint]:
    first = factory.make_complaint(merchant, now=NOW).complaint
    second = factory.make_complaint(merchant, now=NOW + timedelta(hours=3)).complaint
    return first, second


def test_linking_closes_the_later_case_as_merged_and_keeps_both(
    app: Flask, session: Session, factory: Factory
) -> None:
    merchant = factory.make_merchant()
    first, second = _pair(factory, merchant)
    station = make_user(session, "station", market=merchant.market)
    at = NOW + timedelta(hours=4)
    # Linking from the earlier case's page: the later one is still the duplicate.
    link_duplicate(
        session,
        first,
        second,
        station,
        version=first.version,
        other_version=second.version,
        now=at,
        salt=factory.salt,
        policy=POLICY,
    )
    session.commit()
    assert continuing_case(second, first) == (first, second)
    assert (second.status, second.linked_to_id, second.closed_at, second.outcome) == (
        "closed",
        first.id,
        at,
        None,
    )
    assert first.status != "closed" and first.linked_to_id is None
    running = session.scalars(
        select(StageClock).where(StageClock.complaint_id == second.id, StageClock.stopped_at.is_(None))
    ).all()
    assert running == []
    assert second.stage is None and second.stage_due_at is None
    stopped = session.scalars(
        select(StageClock.stop_reason).where(StageClock.complaint_id == second.id)
    ).all()
    assert stopped and set(stopped) == {"merged"}
    merged = session.scalars(
        select(Event).where(Event.complaint_id == second.id, Event.kind == "merged")
    ).one()
    merged_in = session.scalars(
        select(Event).where(Event.complaint_id == first.id, Event.kind == "merged_in")
    ).one()
    assert merged.public and merged.data == {"into": first.case_number} and merged.actor_id == station.id
    assert merged_in.public and merged_in.data == {"from": second.case_number}
    assert verify_chains(session, factory.salt)[1] is None
    assert app.test_cli_runner().invoke(cli, ["audit", "verify"]).exit_code == 0
    # Nothing is deleted: both stay in the database (and so in the statistics).
    assert session.get(Complaint, second.id) is not None


def test_linking_is_refused_when_it_does_not_fit(session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    first, second = _pair(factory, merchant)
    other_phone = factory.make_complaint(merchant, now=NOW + DAY, phone="13800000001").complaint
    station = make_user(session, "station", market=merchant.market)
    merchant_user = make_user(session, "merchant", merchant=merchant)
    stamp = {"now": NOW + DAY, "salt": factory.salt, "policy": POLICY}

    def link(a: Complaint, b: Complaint, user=station, **over: int) -> None:  # type: ignore[no-untyped-def]
        versions = {"version": a.version, "other_version": b.version, **over}
        link_duplicate(session, a, b, user, **versions, **stamp)  # type: ignore[arg-type]

    with pytest.raises(ActionNotAllowedError):
        link(first, second, merchant_user)
    with pytest.raises(NotDuplicateError):
        link(first, other_phone)
    with pytest.raises(NotDuplicateError):
        link(first, first)
    with pytest.raises(StaleCaseError):
        link(first, second, other_version=second.version + 1)
    session.rollback()
    link(first, second)
    session.commit()
    with pytest.raises(CaseClosedError):  # already merged, hence closed
        link(first, second)
    session.rollback()
    assert (
        session.scalar(
            select(Event.id).where(Event.kind == "merged_in", Event.complaint_id == other_phone.id)
        )
        is None
    )
