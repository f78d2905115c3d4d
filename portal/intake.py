"""Taking a complaint in: one transaction stores the case, its photos and its first event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from portal import bulk
from portal.cards import ChainWriter
from portal.casenumbers import next_case_number, token_hash, tracking_token
from portal.clock import Policy, Stage, stage_deadline
from portal.models import Attachment, Complaint, Market, Merchant
from portal.policy import policy_for, work_calendar
from portal.repeat_flags import flag_arrival
from portal.signals import SignalPolicy
from portal.stages import CaseClocks
from portal.storage import PhotoStore
from portal.uploads import CleanPhoto, new_storage_key
from portal.workdays import WorkCalendar

_CASES = cast(Table, Complaint.__table__)
_BY_KEY = select(_CASES.c.id, _CASES.c.phone, _CASES.c.poster_code_id).where(
    _CASES.c.idempotency_key == bindparam("key")
)


class IdempotencyConflictError(Exception):
    """The form key was already used for a different submission."""


@dataclass(frozen=True)
class Submission:
    """What the shopper (or staff on their behalf) told us, already validated."""

    kind: str
    category: str
    description: str
    idempotency_key: str
    amount_fen: int | None = None
    wish: str | None = None
    on_site: bool = False
    phone: str | None = None
    name: str | None = None
    channel: str = "poster"


@dataclass(frozen=True)
class Target:
    """Whom the complaint is about, as resolved from the poster."""

    unit_id: int
    merchant: Merchant | None
    market: Market | None
    poster_code_id: int | None


@dataclass
class Receipt:
    """The stored case, its token, and what happened to each photo."""

    complaint: Complaint
    token: str
    created: bool
    photo_problems: list[tuple[int, str]] = field(default_factory=list)


def _existing(session: Session, sub: Submission, target: Target) -> Complaint | None:
    """Return the case already stored for this form key, or refuse a reused key."""
    # Every submission asks; only a retry loads the whole case.
    found = session.connection().execute(_BY_KEY, {"key": sub.idempotency_key}).first()
    if found is None:
        return None
    if found.phone != sub.phone or found.poster_code_id != target.poster_code_id:
        raise IdempotencyConflictError(sub.idempotency_key)
    return session.get(Complaint, found.id)


def _row_of(complaint: Complaint) -> dict[str, Any]:
    """Give every column of a new case its value or its default, on the object and in a row.

    Done before the write lock: under it the row only gets its number, and reading the case
    afterwards asks the database nothing.
    """
    row: dict[str, Any] = {}
    for column in _CASES.c:
        if column.key == "id":
            continue
        if column.key not in complaint.__dict__:
            default = column.default
            value = default.arg if isinstance(default, ScalarElementColumnDefault) else None
            setattr(complaint, column.key, value)
        row[column.key] = getattr(complaint, column.key)
    return row


def _insert_case(session: Session, case: Prepared, number: str) -> None:
    """Insert a prepared case with its number in one statement; keep it in the session as stored.

    Clocks and events follow as plain rows, so a submission costs no unit-of-work flush at all.
    """
    complaint = case.complaint
    complaint.case_number = case.row["case_number"] = number
    complaint.id = bulk.insert_rows(session, _CASES, [case.row], returning="id")[0]
    make_transient_to_detached(complaint)
    session.add(complaint)


def _first_stage(sub: Submission) -> tuple[Stage, str]:
    """A report skips mediation and goes straight to the regulator's verify clock."""
    if sub.kind == "report":
        return Stage.VERIFY, "regulator"
    return Stage.RESPOND, "merchant"


@dataclass
class Prepared:
    """A new case worked out before the write lock: everything but its number and id."""

    complaint: Complaint
    token: str
    row: dict[str, Any]


def prepare(
    sub: Submission,
    target: Target,
    *,
    now: datetime,
    secret: str,
    policy: Policy,
    calendar: WorkCalendar,
) -> Prepared:
    """Work out the new case without asking the database, so no lock is held meanwhile."""
    token = tracking_token(secret, sub.idempotency_key)
    stage, rung = _first_stage(sub)
    deadline = stage_deadline(stage, now, policy, calendar)
    complaint = Complaint(
        tracking_hash=token_hash(token),
        idempotency_key=sub.idempotency_key,
        channel=sub.channel,
        kind=sub.kind,
        category=sub.category,
        description=sub.description,
        amount_fen=sub.amount_fen,
        wish=sub.wish,
        on_site=sub.on_site,
        phone=sub.phone,
        phone_last4=sub.phone[-4:] if sub.phone else None,
        name=sub.name,
        merchant_id=target.merchant.id if target.merchant else None,
        market_id=target.market.id if target.market else None,
        unit_id=target.unit_id,
        poster_code_id=target.poster_code_id,
        status="new",
        rung=rung if target.merchant or rung == "regulator" else "station",
        stage=stage.value,
        stage_started_at=now,
        stage_due_at=deadline.due,
        created_at=now,
        updated_at=now,
    )
    return Prepared(complaint, token, _row_of(complaint))


def submit(
    session: Session,
    sub: Submission,
    target: Target,
    *,
    photos: Sequence[tuple[int, CleanPhoto]],
    store: PhotoStore,
    now: datetime,
    secret: str,
    salt: str,
    refused: Sequence[tuple[int, str]] = (),
    calendar: WorkCalendar | None = None,
    policy: Policy | None = None,
    signals: SignalPolicy = SignalPolicy(),  # noqa: B008  (frozen: the configured defaults)
    prepared: Prepared | None = None,
) -> Receipt:
    """Store a complaint, its photos and its first event; a retried form returns the same case.

    A caller holding the write lock may pass the working-day calendar and the promise (policy)
    it read beforehand, or the whole case worked out by `prepare` before it took the lock, so
    the lock is held only for the statements. `signals` is the repeat-phone rule the new
    case's flag follows (KUAISU_REPEAT_PHONE_*).
    """
    calendar = calendar or work_calendar(session)
    policy = policy or policy_for(session, unit_id=target.unit_id, market=target.market)
    if prepared is None:
        prepared = prepare(sub, target, now=now, secret=secret, policy=policy, calendar=calendar)
    found = _existing(session, sub, target)
    if found is not None:
        return Receipt(found, prepared.token, created=False)
    complaint = prepared.complaint
    _insert_case(session, prepared, next_case_number(session, now))
    flag_arrival(session, complaint, signals)
    clocks = CaseClocks(session, now, calendar, bulk=True)
    clocks.know_policy(complaint, policy)
    clocks.open_rung(complaint, new=True)
    clocks.write()
    receipt = Receipt(complaint, prepared.token, created=True, photo_problems=list(refused))
    attach_photos(session, complaint, photos, store, now, receipt)
    chain = ChainWriter(session, salt, bulk=True)
    chain.new_chain(complaint.id)
    chain.append(
        complaint,
        "submitted",
        now=now,
        actor_role="shopper",
        public=True,
        data={
            "kind": sub.kind,
            "category": sub.category,
            "channel": sub.channel,
            "photos": len(photos) + len(refused) - len(receipt.photo_problems),
            "on_site": sub.on_site,
        },
    )
    for index, reason in receipt.photo_problems:
        chain.append(
            complaint,
            "photo_not_stored",
            now=now,
            actor_role="system",
            public=True,
            data={"photo": index, "reason": reason},
        )
    chain.write()
    return receipt


def attach_photos(
    session: Session,
    complaint: Complaint,
    photos: Sequence[tuple[int, CleanPhoto]],
    store: PhotoStore,
    now: datetime,
    receipt: Receipt,
) -> None:
    """Write each clean photo; a failing disk drops that photo, with the fact recorded."""
    if not photos:
        return
    for index, photo in photos:
        key = new_storage_key()
        try:
            store.put(key, photo.data)
        except OSError:
            receipt.photo_problems.append((index, "storage"))
            continue
        session.add(
            Attachment(
                complaint_id=complaint.id,
                storage_key=key,
                status=photo.status,
                width=photo.width,
                height=photo.height,
                size_bytes=len(photo.data),
                sha256=photo.sha256,
                created_at=now,
            )
        )
    session.flush()
