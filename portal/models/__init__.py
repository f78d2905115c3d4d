"""Every table of Kuaisu, importable from one place."""

from portal.models.cases import Attachment, CaseCounter, Complaint, Event
from portal.models.clocks import StageClock
from portal.models.facts import CaseFact, CaseFactQueue, ShopDay, ShopMonth, UnitDay, UnitMonth
from portal.models.insight import ApiKey, AuditLog, WeeklySummary
from portal.models.ops import CalendarDay, Delivery, NotificationChannel, PosterJob, StageCard
from portal.models.org import Market, Merchant, PosterCode, RegulatorUnit
from portal.models.staff import User

__all__ = [
    "ApiKey",
    "Attachment",
    "AuditLog",
    "CalendarDay",
    "CaseCounter",
    "CaseFact",
    "CaseFactQueue",
    "Complaint",
    "Delivery",
    "Event",
    "Market",
    "Merchant",
    "NotificationChannel",
    "PosterCode",
    "PosterJob",
    "RegulatorUnit",
    "ShopDay",
    "ShopMonth",
    "StageCard",
    "StageClock",
    "UnitDay",
    "UnitMonth",
    "User",
    "WeeklySummary",
]
