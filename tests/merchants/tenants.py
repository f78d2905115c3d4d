"""Two tenants side by side, each with every kind of record a back-office URL can name."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from portal.intake import Submission, Target, submit
from portal.models import (
    Attachment,
    Complaint,
    Market,
    Merchant,
    NotificationChannel,
    PosterCode,
    PosterJob,
    RegulatorUnit,
    User,
)
from portal.posters import BulkScope
from portal.storage import LocalStore
from portal.uploads import sanitise
from tests.factories import Factory, image_bytes, make_user

ISOLATED_ROLES = ("merchant", "station", "regulator")


@dataclass
class Tenant:
    """One office's world: a market with a merchant, a case with a photo, and its staff."""

    unit: RegulatorUnit
    market: Market
    merchant: Merchant
    complaint: Complaint
    attachment: Attachment
    poster: PosterCode
    channel: NotificationChannel
    job: PosterJob
    users: dict[str, User] = field(default_factory=dict)


def _complaint_with_photo(factory: Factory, merchant: Merchant, upload_dir: str) -> Complaint:
    """Store a case with one real photo on disk, as the shopper's form would."""
    photo = sanitise(image_bytes(), max_pixels=50_000_000, max_bytes=12 * 1024 * 1024)
    sub = Submission(
        kind="complaint",
        category=merchant.category,
        description="瓷砖有裂纹。",
        idempotency_key=secrets.token_urlsafe(24),
        phone="13800138000",
    )
    target = Target(merchant.unit_id, merchant, merchant.market, factory.poster_of(merchant).id)
    receipt = submit(
        factory.session,
        sub,
        target,
        photos=[(1, photo)],
        store=LocalStore(upload_dir),
        now=factory.now,
        secret=factory.salt,
        salt=factory.salt,
    )
    factory.session.commit()
    return receipt.complaint


def build_tenant(factory: Factory, district: RegulatorUnit, label: str, upload_dir: str) -> Tenant:
    """Build an office under the district with a market, a merchant, a case and one user per role."""
    session: Session = factory.session
    unit = factory.make_unit(f"{label}市场监管所", parent=district)
    market = factory.make_market(unit, name=f"{label}市场")
    merchant = factory.make_merchant(market, name=f"{label}瓷砖")
    complaint = _complaint_with_photo(factory, merchant, upload_dir)
    users = {
        "merchant": make_user(session, "merchant", merchant=merchant),
        "station": make_user(session, "station", market=market),
        "regulator": make_user(session, "regulator", unit=unit),
    }
    channel = NotificationChannel(
        market_id=market.id, kind="email", target=f"{label}@example.cn", created_at=factory.now
    )
    job = PosterJob(
        token=secrets.token_hex(16),
        requested_by_id=users["station"].id,
        scope=BulkScope("market", (market.id,)).as_json(),
        layout="A4",
        fmt="pdf",
        status="queued",
        created_at=factory.now,
    )
    session.add_all([channel, job])
    session.commit()
    tenant = Tenant(
        unit=unit,
        market=market,
        merchant=merchant,
        complaint=complaint,
        attachment=complaint.attachments[0],
        poster=factory.poster_of(merchant),
        channel=channel,
        job=job,
        users=users,
    )
    session.commit()  # end the read, so the test's next query sees what requests commit
    return tenant


def build_world(factory: Factory, upload_dir: str) -> tuple[Tenant, Tenant]:
    """Two offices under one district, each with its own market: tenants A and B."""
    district = factory.make_unit("潞州区市场监督管理局", level="district")
    return (
        build_tenant(factory, district, "甲", upload_dir),
        build_tenant(factory, district, "乙", upload_dir),
    )


# How to name a tenant's record for each URL argument. A route with an argument not listed
# here fails the isolation test until someone adds a resolver for it.
RESOLVERS: dict[str, Any] = {
    "case_number": lambda t: t.complaint.case_number,
    "photo_id": lambda t: t.attachment.id,
    "merchant_id": lambda t: t.merchant.id,
    "market_id": lambda t: t.market.id,
    "unit_id": lambda t: t.unit.id,
    "code": lambda t: t.poster.code,
    "poster_code": lambda t: t.poster.code,
    "user_id": lambda t: t.users["merchant"].id,
    "channel_id": lambda t: t.channel.id,
    "token": lambda t: t.job.token,
}
# Arguments that name no record (a file format); both tenants use the same value.
PLAIN_ARGUMENTS: dict[str, str] = {"fmt": "pdf"}
