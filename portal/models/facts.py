"""Insight's pre-aggregated facts: each case's facts once, and daily sums of them.

The dashboard reads these small tables instead of scanning complaints. `case_fact` keeps
every case's facts as they stand once every running deadline has passed (the "settled"
facts, see portal.facts_upkeep); the day tables hold, per key, how many cases fall in each
case set of portal.metric_sets. A transaction that changes a case queues it in
case_fact_queue; the queue is caught up every minute and before any figure is read
(portal.facts_upkeep), and `kuaisu insight rebuild` recomputes everything from scratch.
Days are Shanghai calendar days as 'YYYY-MM-DD' text (months 'YYYY-MM'), exactly what
portal.sqltime.shanghai_day gives on both databases; 0 stands for "no market" or "no shop"
in keys, where NULL would defeat the unique key.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base
from portal.models.clocks import StageClock

# One column per case set of portal.metric_sets.SETS (checked there), then two sums.
SET_COLUMNS = (
    "received", "hidden", "valid", "accepted", "complaints", "reports", "closed", "open_new",
    "open_handling", "overdue", "respond_due", "respond_on_time", "respond_late", "onsite_due",
    "onsite_on_time", "onsite_late", "feedback_due", "feedback_on_time", "feedback_late",
    "with_outcome", "self_settled", "mediated", "failed", "not_accepted", "mediation_ended", "rated",
    "recovered", "escalated_station", "escalated_regulator", "decided_respond", "decided_onsite",
    "decided_feedback", "decided_tell_return", "decided_accept", "decided_mediation",
    "decided_termination_notice", "decided_verify", "late_respond", "late_onsite", "late_feedback",
    "late_tell_return", "late_accept", "late_mediation", "late_termination_notice", "late_verify",
    "ontime_respond", "ontime_onsite", "ontime_feedback", "ontime_tell_return", "ontime_accept",
    "ontime_mediation", "ontime_termination_notice", "ontime_verify", "late_any", "closed_late",
    "closed_on_time", "extended",
)  # fmt: skip
SUM_COLUMNS = ("satisfaction_sum", "recovered_fen")
COUNT_COLUMNS = SET_COLUMNS + SUM_COLUMNS
# The category of the unit tables' rows that sum every category.
ALL_CATEGORIES = ""
# SQLite keeps these rows in primary-key order, so a unit's or shop's days are read in one run.
CLUSTERED = {"sqlite_with_rowid": False}


class CaseFact(Base):
    """One case's settled facts and the keys it is counted under; one row per complaint."""

    __tablename__ = "case_fact"

    complaint_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[int] = mapped_column(Integer)
    market_id: Mapped[int] = mapped_column(Integer)
    merchant_id: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(12))
    visible: Mapped[int] = mapped_column(Integer)
    # portal.metric_facts: the packed row facts, the clock mask and the escalation mask.
    signature: Mapped[int] = mapped_column(Integer)
    clocks: Mapped[int] = mapped_column(Integer)
    escalations: Mapped[int] = mapped_column(Integer)
    satisfaction: Mapped[int] = mapped_column(Integer)
    recovered_fen: Mapped[int] = mapped_column(Integer)


class CaseFactQueue(Base):
    """A case changed since its facts were last measured: one row per changing transaction.

    Rows are only added by writers and only deleted, by sequence number, by the catch-up that
    read them, so a change committed while a catch-up runs stays queued for the next one.
    """

    __tablename__ = "case_fact_queue"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(Integer)


class ShopDay(Base):
    """Set counts per day and shop (with its market and unit), category, kind and visibility.

    Read for a market or a shop (a station's or a merchant's view, or a filter), and for the
    days around whole months when ranking a unit's shops.
    """

    __tablename__ = "insight_shop_day"
    __table_args__ = CLUSTERED

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    market_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(String(24), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    # 1 unless hidden: a merchant never sees its hidden cases, not even as counted.
    visible: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class UnitDay(Base):
    """Set counts per day, unit, category and kind; category '' sums every category.

    Read for a regulator's subtree: a district's year is a few thousand rows.
    """

    __tablename__ = "insight_unit_day"
    __table_args__ = CLUSTERED

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(String(24), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)


class UnitMonth(Base):
    """insight_unit_day summed per calendar month: a year of a district is a hundred rows."""

    __tablename__ = "insight_unit_month"
    __table_args__ = CLUSTERED

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(String(24), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)


class ShopMonth(Base):
    """Valid cases per month, unit, shop and kind: the ranking of shops over long periods."""

    __tablename__ = "insight_shop_month"
    __table_args__ = CLUSTERED

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    valid: Mapped[int] = mapped_column(Integer)


for _table in (ShopDay, UnitDay, UnitMonth):
    for _name in COUNT_COLUMNS:
        setattr(_table, _name, mapped_column(_name, Integer, nullable=False, default=0))

Index("ix_shop_day_market", ShopDay.market_id, ShopDay.day)
Index("ix_shop_day_merchant", ShopDay.merchant_id, ShopDay.day)
# The categories chart reads one narrow column of a unit's year: a covering index is a fifth
# of the table's pages.
Index("ix_unit_day_categories", UnitDay.unit_id, UnitDay.category, UnitDay.day, UnitDay.__table__.c.valid)
# Ranking a subtree's shops reads only these narrow entries (PostgreSQL: index-only scans).
Index("ix_shop_day_rank", ShopDay.unit_id, ShopDay.day, ShopDay.merchant_id, ShopDay.__table__.c.valid)
Index("ix_shop_month_rank", ShopMonth.unit_id, ShopMonth.month, ShopMonth.merchant_id, ShopMonth.valid)
# The dashboard re-measures cases whose clocks still run towards a deadline ahead. Partial:
# led by stopped_at, SQLite's planner took it for every "running clocks of these cases"
# query and walked all running clocks (the sweep's batches, 2-7x slower).
_RUNNING = StageClock.stopped_at.is_(None)
Index("ix_stage_clock_running_due", StageClock.due_at, sqlite_where=_RUNNING, postgresql_where=_RUNNING)
