"""The stored repeat-phone flag: set at intake, equal to the case page's rule, recounted by the CLI."""

from __future__ import annotations

import random
from datetime import timedelta

from flask import Flask
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from portal.cli import cli
from portal.filing import provide_identity
from portal.models import Complaint, Merchant
from portal.repeat_flags import flagged_among, reflag_all
from portal.signals import SignalPolicy, repeat_phone
from tests.conftest import NOW
from tests.factories import Factory

DAY = timedelta(days=1)
CLAIMANT = "13912345678"
POLICY = SignalPolicy()  # 10 in 7 days: what the factory's intake uses


def _flags(session: Session) -> dict[int, bool]:
    session.commit()  # a fresh read: the flags may come from another session (the CLI)
    return {i: f for i, f in session.execute(select(Complaint.id, Complaint.repeat_phone_flag))}


def _expected(session: Session, policy: SignalPolicy) -> dict[int, bool]:
    """The case page's rule, case by case."""
    cases = session.scalars(select(Complaint)).all()
    return {c.id: repeat_phone(session, c, policy, true()) is not None for c in cases}


def test_flagged_among_follows_the_case_pages_windows() -> None:
    rows = [(n, NOW + n * timedelta(hours=12)) for n in range(10)]
    assert flagged_among(rows, POLICY) == set(range(10))
    assert flagged_among(rows[:9], POLICY) == set()
    # Exactly one window apart still counts together; one microsecond more does not.
    edge = [*rows[:9], (99, NOW + 7 * DAY)]
    assert flagged_among(edge, POLICY) == {*range(9), 99}
    late = [*rows[1:9], (0, NOW - timedelta(microseconds=1)), (99, NOW + 7 * DAY)]
    late.sort(key=lambda row: row[1])
    assert flagged_among(late, POLICY) == set()
    # Equal times: every case of the moment is in the window.
    same = [(n, NOW) for n in range(10)]
    assert flagged_among(same, POLICY) == set(range(10))


def test_the_tenth_case_flags_the_window_and_earlier_ones_stay_unflagged(
    session: Session, factory: Factory
) -> None:
    shop = factory.make_merchant()
    old = factory.make_complaint(shop, now=NOW - 8 * DAY, phone=CLAIMANT).complaint
    nine = [factory.make_complaint(shop, now=NOW + n * timedelta(hours=12), phone=CLAIMANT) for n in range(9)]
    other = factory.make_complaint(shop, now=NOW, phone="13800000001").complaint
    assert not any(_flags(session).values())
    tenth = factory.make_complaint(shop, now=NOW + 7 * DAY, phone=CLAIMANT).complaint
    flags = _flags(session)
    assert [flags[r.complaint.id] for r in nine] == [True] * 9 and flags[tenth.id]
    assert flags[old.id] is False and flags[other.id] is False
    # The flag is no edit: the version a form holds stays valid.
    assert {r.complaint.version for r in nine} == {session.get(Complaint, nine[0].complaint.id).version}  # type: ignore[union-attr]


def test_a_case_entered_late_flags_the_later_ones(session: Session, factory: Factory) -> None:
    shop = factory.make_merchant()
    hours = [12 * n for n in range(1, 10)] + [24 * 12]
    later = [
        factory.make_complaint(shop, now=NOW + timedelta(hours=h), phone=CLAIMANT).complaint for h in hours
    ]
    assert not any(_flags(session).values())
    walk_in = factory.make_complaint(shop, now=NOW, phone=CLAIMANT).complaint  # sent before, entered now
    flags = _flags(session)
    assert flags[walk_in.id] and [flags[c.id] for c in later] == [True] * 9 + [False]


def test_stored_flags_equal_the_case_page_rule_even_out_of_order(session: Session, factory: Factory) -> None:
    rng = random.Random(5)
    market = factory.make_market()
    shops: list[Merchant] = [factory.make_merchant(market, name=f"商户{n}") for n in range(3)]
    phones = ["13900000001", "13900000002", None]
    # Arrivals in a shuffled order (staff entering older walk-ins, clocks of two workers).
    moments = [NOW + timedelta(hours=rng.randrange(0, 24 * 20)) for _ in range(80)]
    rng.shuffle(moments)
    for moment in moments:
        factory.make_complaint(rng.choice(shops), now=moment, phone=rng.choice(phones))
    flags = _flags(session)
    assert flags == _expected(session, POLICY)
    assert any(flags.values()) and not all(flags.values())
    assert reflag_all(session, POLICY)[1:] == (0, 0)  # the recount agrees with the upkeep
    # Another rule: the recount moves the flags, and back again under the old one.
    other_rule = SignalPolicy(repeat_threshold=4, repeat_window=3 * DAY)
    flagged, added, cleared = reflag_all(session, other_rule)
    session.commit()
    assert added > 0 and flagged == sum(_flags(session).values())
    assert _flags(session) == _expected(session, other_rule)
    assert reflag_all(session, POLICY) == (sum(flags.values()), cleared, added)
    session.commit()
    assert _flags(session) == flags


def test_a_number_given_later_joins_its_window(session: Session, factory: Factory) -> None:
    shop = factory.make_merchant()
    nine = [factory.make_complaint(shop, now=NOW + n * timedelta(hours=1), phone=CLAIMANT) for n in range(9)]
    anonymous = factory.make_complaint(shop, now=NOW + timedelta(hours=10), phone=None).complaint
    anonymous.identity_requested_at = NOW + DAY
    session.commit()
    provide_identity(
        session,
        anonymous,
        name="李女士",
        address="长治市英雄南路1号",
        phone=CLAIMANT,
        now=NOW + DAY,
        salt=factory.salt,
        signals=POLICY,
    )
    session.commit()
    flags = _flags(session)
    assert flags[anonymous.id] and all(flags[r.complaint.id] for r in nine)


def test_reflag_command_recounts_with_the_configured_rule(
    app: Flask, session: Session, factory: Factory
) -> None:
    shop = factory.make_merchant()
    cases = [factory.make_complaint(shop, now=NOW + n * DAY, phone=CLAIMANT).complaint for n in range(3)]
    assert not any(_flags(session).values())
    app.config.update(REPEAT_PHONE_THRESHOLD=3, REPEAT_PHONE_WINDOW_DAYS=2)
    result = app.test_cli_runner().invoke(cli, ["signals", "reflag"])
    assert result.exit_code == 0, result.output
    assert "3 cases flagged (3 from one number within 2 days): 3 newly, 0 cleared" in result.output
    assert all(_flags(session)[c.id] for c in cases)
