"""What a poster says and the page geometry both renderers share."""

from dataclasses import dataclass
from typing import Literal

from reportlab.lib.pagesizes import A4, A5, A6

Layout = Literal["A4", "A5", "A6"]
LAYOUTS: tuple[Layout, ...] = ("A4", "A5", "A6")
PAGE_SIZES: dict[Layout, tuple[float, float]] = {"A4": A4, "A5": A5, "A6": A6}

Colour = tuple[int, int, int]
WHITE: Colour = (255, 255, 255)
BLACK: Colour = (0, 0, 0)
RED: Colour = (200, 22, 29)
TINT: Colour = (253, 240, 238)

# Tolerance for float rounding when checking that one box holds another.
_EPSILON = 1e-6


@dataclass(frozen=True)
class PosterInfo:
    """Everything printed on one poster."""

    url: str
    poster_code: str
    merchant_name: str | None
    market_name: str | None
    station_name: str | None
    station_phone: str | None
    respond_minutes: int = 45
    onsite_minutes: int = 90
    feedback_hours: int = 24
    signed_commitment: bool = True


@dataclass(frozen=True)
class Box:
    """A rectangle in points, measured from the top-left corner of the page."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        """Return the x of the right edge."""
        return self.x + self.width

    @property
    def bottom(self) -> float:
        """Return the y of the bottom edge."""
        return self.y + self.height

    def contains(self, other: "Box") -> bool:
        """Tell whether other lies wholly inside this box."""
        return (
            other.x >= self.x - _EPSILON
            and other.y >= self.y - _EPSILON
            and other.right <= self.right + _EPSILON
            and other.bottom <= self.bottom + _EPSILON
        )

    def overlaps(self, other: "Box") -> bool:
        """Tell whether the two boxes share any area."""
        return (
            self.x < other.right - _EPSILON
            and other.x < self.right - _EPSILON
            and self.y < other.bottom - _EPSILON
            and other.y < self.bottom - _EPSILON
        )


@dataclass(frozen=True)
class Panel:
    """A filled rectangle; text on it is drawn in its ink over its paper."""

    box: Box
    paper: Colour
    ink: Colour


@dataclass(frozen=True)
class TextLine:
    """One line of text, drawn from its pen position on the baseline."""

    text: str
    x: float
    baseline: float
    size: float
    advance: float
    ascent: float
    descent: float
    panel: int
    tone: float = 1.0  # share of the panel's ink over its paper; below 1 is muted
    stroke: float = 0.0  # outline half-width that fakes bold; the font has no bold face

    @property
    def box(self) -> Box:
        """Return the area the drawn glyphs can cover, outline included."""
        return Box(
            self.x - self.stroke,
            self.baseline - self.ascent - self.stroke,
            self.advance + 2 * self.stroke,
            self.ascent + self.descent + 2 * self.stroke,
        )


@dataclass(frozen=True)
class PosterLayout:
    """A poster page: panels from back to front, text lines and the QR code's square."""

    width: float
    height: float
    panels: tuple[Panel, ...]
    lines: tuple[TextLine, ...]
    qr: Box  # quiet zone included

    @property
    def page(self) -> Box:
        """Return the page as a box."""
        return Box(0, 0, self.width, self.height)


def mix(paper: Colour, ink: Colour, tone: float) -> Colour:
    """Return ink laid over paper at the given tone."""
    return (
        round(paper[0] + (ink[0] - paper[0]) * tone),
        round(paper[1] + (ink[1] - paper[1]) * tone),
        round(paper[2] + (ink[2] - paper[2]) * tone),
    )
