"""What a back-office page may show of a shopper's personal data."""

from __future__ import annotations

from flask import Flask

from merchants.access import can_reveal_phone
from portal.models import Complaint, User
from portal.phones import mask, mask_name


def phone_for(user: User, complaint: Complaint, revealed: bool = False) -> str:
    """Return the shopper's phone masked (138****8000), in full only after a logged reveal."""
    if revealed and can_reveal_phone(user):
        return complaint.phone or ""
    return mask(complaint.phone)


def name_for(user: User, complaint: Complaint) -> str:
    """Return the shopper's name for staff who handle the case; the family name only for the shop."""
    if can_reveal_phone(user):
        return complaint.name or ""
    return mask_name(complaint.name)


def init_app(app: Flask) -> None:
    """Offer phone_for, name_for and can_reveal_phone to templates."""
    app.add_template_global(phone_for)
    app.add_template_global(name_for)
    app.add_template_global(can_reveal_phone)
