"""What notifications say, and the exact message formats of email and the group robots."""

from __future__ import annotations

import base64
import hashlib
import hmac
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.categories import CATEGORY_CODES, category_label
from portal.i18n import shanghai
from portal.models import Complaint

# One headline per notifiable event kind; a kind missing here still gets the generic one.
HEADLINES: dict[str, Any] = {
    "submitted": _l("New complaint"),
    "shopper_info": _l("The shopper added information"),
    "rejected": _l("The shopper rejected the proposed resolution"),
    "accepted": _l("The shopper accepted the proposed resolution"),
    "rated": _l("The shopper rated the handling"),
    "reminder": _l("Reminder: half of the time limit has passed"),
    "urge": _l("Urge: the time limit is about to run out"),
    "breach": _l("Overdue: the time limit has passed"),
    "escalated": _l("The case was escalated"),
    "returned": _l("The case was returned"),
    "overdue": _l("Supervision: overdue with no rung above"),
}

STAGE_NAMES: dict[str, Any] = {
    "respond": _l("first response"),
    "onsite": _l("on site"),
    "feedback": _l("feedback"),
    "return": _l("return"),
    "tell_return": _l("telling the shopper about the return"),
    "accept": _l("decision to accept"),
    "mediation": _l("mediation"),
    "termination_notice": _l("notice that mediation ended"),
    "verify": _l("verifying the report"),
}

MARKDOWN_KINDS = frozenset({"wecom", "dingtalk"})
# Robots render these as markup; names typed by staff must not turn into links or bold.
_MARKDOWN_SAFE = str.maketrans(
    {"*": "＊", "_": "＿", "[": "［", "]": "］", "`": "'", "#": "＃", "<": "＜", ">": "＞"}
)


@dataclass(frozen=True)
class Notice:
    """A notification before it is rendered for one kind of channel."""

    subject: str
    fields: tuple[tuple[str, str], ...]
    link: str


class NoticeWords:
    """The fixed words of a case notice in one locale, translated once (the sweep sends thousands)."""

    def __init__(self) -> None:
        self.headlines = {kind: str(text) for kind, text in HEADLINES.items()}
        self.generic = _("The case was updated")
        self.new_report = _("New report")
        self.stages = {stage: str(name) for stage, name in STAGE_NAMES.items()}
        self.categories = {code: category_label(code) for code in CATEGORY_CODES}
        self.case, self.merchant, self.market = _("Case number"), _("Merchant"), _("Market")
        self.category, self.stage = _("Category"), _("Stage")
        # Formats translated without their values; the values go in per notice.
        self.stage_due = _("%(stage)s · due %(when)s")
        self.subject = _("[Kuaisu] %(headline)s %(case)s")
        self.open = _("Open in the back office")
        self.digest = _("[Kuaisu] Clock digest: %(count)s cards and escalations")
        self.late = _("issued late")


_WORDS: dict[str, NoticeWords] = {}


def staff_language(locale: str) -> AbstractContextManager[Any]:
    """Speak the deployment's language to staff, whatever the shopper's browser asked for."""
    # The sweep already speaks it: switching per event cost it more than the message.
    return nullcontext() if str(get_locale()) == locale else force_locale(locale)


def notice_words() -> NoticeWords:
    """Return the fixed words of notices in the current locale (case notices and digests)."""
    locale = str(get_locale())
    if locale not in _WORDS:
        _WORDS[locale] = NoticeWords()
    return _WORDS[locale]


def case_notice(complaint: Complaint, kind: str, base_url: str) -> Notice:
    """Describe an event on a case without personal data: number, shop, category, stage, link."""
    words = notice_words()
    headline = words.headlines.get(kind, words.generic)
    if kind == "submitted" and complaint.kind == "report":
        headline = words.new_report
    fields = [(words.case, complaint.case_number)]
    if complaint.merchant is not None:
        fields.append((words.merchant, complaint.merchant.name))
    if complaint.market is not None:
        fields.append((words.market, complaint.market.name))
    fields.append((words.category, words.categories.get(complaint.category, complaint.category)))
    if complaint.stage:
        fields.append((words.stage, stage_text(words, complaint.stage, complaint.stage_due_at)))
    link = f"{base_url.rstrip('/')}/office/complaints/{complaint.case_number}"
    subject = words.subject % {"headline": headline, "case": complaint.case_number}
    return Notice(subject[:200], tuple(fields), link)


def stage_text(words: NoticeWords, stage: str, due: datetime | None) -> str:
    """Name a stage and, when it has one, its due moment in Shanghai time."""
    name = words.stages.get(stage, stage)
    local = shanghai(due)
    return words.stage_due % {"stage": name, "when": f"{local:%m-%d %H:%M}"} if local else name


def check_notice(base_url: str) -> Notice:
    """Describe the test message a station sends to check a channel."""
    return Notice(
        _("[Kuaisu] Test message"),
        ((_("Result"), _("This channel works: case notifications will arrive here.")),),
        f"{base_url.rstrip('/')}/office/channels",
    )


def render_body(notice: Notice, channel_kind: str) -> str:
    """Render the stored body: markdown for WeCom and DingTalk, plain text for Feishu and email."""
    lines = [field_line(label, value, channel_kind) for label, value in notice.fields]
    return assemble_body(notice.subject, lines, notice.link, channel_kind)


def field_line(label: str, value: str, channel_kind: str) -> str:
    """Render one field for a kind of channel; in markdown the value (typed by staff) is neutralised."""
    if channel_kind in MARKDOWN_KINDS:
        return f"> {label}：{value.translate(_MARKDOWN_SAFE)}"
    return f"{label}：{value}"


def assemble_body(subject: str, lines: list[str], link: str, channel_kind: str) -> str:
    """Put rendered field lines between the subject (markdown only) and the link."""
    open_label = notice_words().open
    if channel_kind in MARKDOWN_KINDS:
        # The subject is our own words: nothing to neutralise.
        return "\n".join([f"**{subject}**", "", *lines, "", f"[{open_label}]({link})"])
    return "\n".join([*lines, "", f"{open_label}: {link}"])


def wecom_payload(subject: str, body: str) -> dict[str, Any]:
    """WeCom group robot: a markdown message (content up to 4096 bytes)."""
    return {"msgtype": "markdown", "markdown": {"content": body}}


def dingtalk_payload(subject: str, body: str) -> dict[str, Any]:
    """DingTalk custom robot: a markdown message; the title shows in the chat list."""
    return {"msgtype": "markdown", "markdown": {"title": subject, "text": body}}


def feishu_payload(subject: str, body: str, secret: str | None, timestamp: int) -> dict[str, Any]:
    """Feishu custom bot: a text message, signed in the body when the bot has a secret."""
    payload: dict[str, Any] = {"msg_type": "text", "content": {"text": f"{subject}\n{body}"}}
    if secret:
        payload.update(timestamp=str(timestamp), sign=feishu_sign(secret, timestamp))
    return payload


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg="timestamp\\nsecret")), timestamp in ms."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu: base64(HMAC-SHA256(key="timestamp\\nsecret", msg=empty)), timestamp in seconds."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def email_message(subject: str, body: str, sender: str, to: str) -> EmailMessage:
    """Build a UTF-8 email; the Chinese subject is RFC 2047 encoded by the SMTP policy."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "kuaisu.local")
    message.set_content(body)
    return message
