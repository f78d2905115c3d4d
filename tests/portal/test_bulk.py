"""Rows written below the ORM (the sweep's bulk statements) read back as the ORM wrote them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from portal import bulk
from portal.models import Complaint, Event, StageCard
from tests.conftest import NOW
from tests.factories import Factory

_CARDS = cast(Table, StageCard.__table__)
_EVENTS = cast(Table, Event.__table__)


def _card(complaint_id: int, key: str, due: datetime) -> dict[str, object]:
    return {
        "card_key": key,
        "complaint_id": complaint_id,
        "stage": "respond",
        "kind": "reminder",
        "due_at": due,
        "issued_at": NOW,
        "late": False,
    }


def test_bulk_times_compare_and_read_back_like_the_orms(session: Session, factory: Factory) -> None:
    case = factory.make_complaint().complaint
    whole = NOW  # no microseconds: stored text must still sort with the ORM's own rows
    beijing = (NOW + timedelta(microseconds=5)).astimezone(timezone(timedelta(hours=8)))
    bulk.insert_rows(session, _CARDS, [_card(case.id, "a", whole), _card(case.id, "b", beijing)])
    session.add(StageCard(**_card(case.id, "c", NOW + timedelta(microseconds=1))))  # type: ignore[arg-type]
    session.flush()
    rows = session.execute(select(StageCard.card_key, StageCard.due_at).order_by(StageCard.due_at)).all()
    assert [key for key, _due in rows] == ["a", "c", "b"]
    assert rows[0].due_at == NOW and rows[2].due_at == NOW + timedelta(microseconds=5)
    assert rows[2].due_at.tzinfo is UTC
    at_now = select(func.count()).select_from(StageCard).where(StageCard.due_at <= NOW)
    assert session.scalar(at_now) == 1
    if session.get_bind().dialect.name == "sqlite":
        stored = session.execute(text("SELECT card_key, due_at FROM stage_card ORDER BY card_key")).all()
        assert [due for _key, due in stored] == [
            "2026-11-23 06:00:00.000000",
            "2026-11-23 06:00:00.000005",
            "2026-11-23 06:00:00.000001",
        ]


def test_bulk_insert_skips_clashes_and_returns_what_it_inserted(session: Session, factory: Factory) -> None:
    case = factory.make_complaint().complaint
    first = bulk.insert_rows(
        session, _CARDS, [_card(case.id, "k1", NOW)], unique="card_key", returning="card_key"
    )
    # More rows than one SQLite statement takes: the chunks still report every new key.
    many = [_card(case.id, f"k{i}", NOW) for i in range(1, 1201)]
    again = bulk.insert_rows(session, _CARDS, many, unique="card_key", returning="card_key")
    assert first == ["k1"]
    assert sorted(again) == sorted(f"k{i}" for i in range(2, 1201))


def test_bulk_events_keep_json_and_chinese(session: Session, factory: Factory) -> None:
    case = factory.make_complaint().complaint
    row = {
        "complaint_id": case.id,
        "seq": 99,
        "kind": "note",
        "public": False,
        "actor_id": None,
        "actor_role": "system",
        "body": "商户态度差",
        "data": {"stage": "respond", "to_name": "万博装饰市场维权站", "late": True},
        "created_at": NOW,
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
    }
    bulk.insert_rows(session, _EVENTS, [row])
    stored = session.scalars(select(Event).where(Event.complaint_id == case.id, Event.seq == 99)).one()
    assert (stored.body, stored.data, stored.public, stored.created_at) == (
        row["body"],
        row["data"],
        False,
        NOW,
    )


def test_bulk_refuses_a_naive_time(session: Session, factory: Factory) -> None:
    case = factory.make_complaint().complaint
    with pytest.raises(ValueError, match="naive"):
        bulk.insert_rows(session, _CARDS, [_card(case.id, "n", NOW.replace(tzinfo=None))])


def test_bulk_updates_bump_the_version(session: Session, factory: Factory) -> None:
    case = factory.make_complaint().complaint
    version = case.version
    table = cast(Table, Complaint.__table__)
    bulk.update_rows(
        session, table, [{"id": case.id, "rung": "station", "updated_at": NOW}], bump_version=True
    )
    session.expire_all()
    found = session.get(Complaint, case.id)
    assert found is not None and (found.rung, found.version, found.updated_at) == (
        "station",
        version + 1,
        NOW,
    )


def test_among_picks_the_same_rows_as_in(session: Session, factory: Factory) -> None:
    ids = [factory.make_complaint().complaint.id for _ in range(3)]
    picked = session.scalars(select(Complaint.id).where(bulk.among(session, Complaint.id, [*ids[:2], 10**6])))
    assert sorted(picked) == ids[:2]


def test_a_value_too_long_for_its_column_is_never_cut_short(session: Session, factory: Factory) -> None:
    # PostgreSQL refuses it (an explicit cast to VARCHAR(n) would have cut it without a word);
    # SQLite keeps it whole. Either way nothing is stored other than what was given.
    case = factory.make_complaint().complaint
    table, long_rung = cast(Table, Complaint.__table__), "station-and-more"
    assert table.c.rung.type.length < len(long_rung)  # type: ignore[attr-defined]
    try:
        with session.begin_nested():
            bulk.update_rows(session, table, [{"id": case.id, "rung": long_rung, "updated_at": NOW}])
    except DBAPIError:
        assert session.get_bind().dialect.name == "postgresql"
    else:
        stored = session.execute(select(Complaint.rung).where(Complaint.id == case.id)).scalar_one()
        assert stored == long_rung
    card = _card(case.id, "k" * 130, NOW)
    try:
        with session.begin_nested():
            bulk.insert_rows(session, _CARDS, [card])
    except DBAPIError:
        assert session.get_bind().dialect.name == "postgresql"
    else:
        assert session.execute(select(StageCard.card_key)).scalar_one() == card["card_key"]
