"""The industries complaints are triaged by (BRIEF: triage by industry)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# Chinese names are part of the data (CSV import and 12315 filing use them), so they are
# plain strings; the labels shown in the UI go through Babel.
CATEGORIES: dict[str, tuple[str, object]] = {
    "food": ("食品", _l("Food")),
    "drug": ("药品", _l("Drugs")),
    "device": ("医疗器械", _l("Medical devices")),
    "retail": ("商场超市", _l("Supermarkets and malls")),
    "professional": ("职业索赔", _l("Professional claimants")),
    "general": ("一般消费纠纷", _l("General consumer disputes")),
    "car": ("汽车", _l("Cars")),
    "realestate": ("房地产", _l("Real estate")),
    "price": ("价格", _l("Prices")),
    "quality": ("产品质量", _l("Product quality")),
}

CATEGORY_CODES: tuple[str, ...] = tuple(CATEGORIES)


def category_label(code: str) -> str:
    """Return the translated label of a category code, or the code itself if unknown."""
    entry = CATEGORIES.get(code)
    return str(entry[1]) if entry else code


def category_from_text(text: str) -> str | None:
    """Return the code for a code or a Chinese name, as typed in an import file."""
    cleaned = text.strip()
    if cleaned in CATEGORIES:
        return cleaned
    for code, (zh, _label) in CATEGORIES.items():
        if cleaned == zh:
            return code
    return None
