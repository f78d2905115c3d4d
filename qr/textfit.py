"""Wrap and shrink poster text so that it always fits the width it is given."""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

# (text, font size in points) -> advance width in points
Measure = Callable[[str, float], float]

ELLIPSIS = "…"
# Chinese line-breaking rules (禁则): these never start or end a line.
_CLOSING = "，。、；：！？）》」』】〉·…,.;:!?)]}%"
_OPENING = "（《「『【〈([{"
# Latin words and phone numbers are kept whole when they fit; URLs break after a "/".
_WORD = r"[A-Za-z0-9@._:\-+#&=?~]*/+|[A-Za-z0-9@._:\-+#&=?~]+"
_TOKEN = re.compile(rf"\s+|[{re.escape(_OPENING)}]*(?:{_WORD}|\S)[{re.escape(_CLOSING)}]*")
_SHRINK_STEP = 0.94


@dataclass(frozen=True)
class FittedText:
    """Text broken into lines at the size that lets it fit."""

    size: float
    lines: tuple[str, ...]
    truncated: bool = False


def fit_text(
    text: str,
    measure: Measure,
    max_width: float,
    max_lines: int,
    largest: float,
    smallest: float,
) -> FittedText:
    """Return the largest size whose wrapped text fits max_lines; truncate at the smallest."""
    size = largest
    while True:
        lines = wrap(text, measure, size, max_width)
        if len(lines) <= max_lines:
            if len(lines) > 1:
                return FittedText(size, balance(text, measure, size, max_width, len(lines)))
            return FittedText(size, tuple(lines))
        if size <= smallest:
            break
        # Half-point steps: the PNG renderer caches one font object per size.
        size = max(smallest, math.floor(size * _SHRINK_STEP * 2) / 2)
    kept = lines[: max_lines - 1]
    rest = "".join(lines[max_lines - 1 :])
    return FittedText(size, (*kept, truncate(rest, measure, size, max_width)), truncated=True)


def wrap(text: str, measure: Measure, size: float, max_width: float) -> list[str]:
    """Break text into lines no wider than max_width, between CJK characters or words."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        if token.isspace():
            line += " " if line else ""
        elif measure(line + token, size) <= max_width:
            line += token
        else:
            if line.strip():
                lines.append(line.rstrip())
            line = ""
            for char in token if measure(token, size) > max_width else (token,):
                if line and measure(line + char, size) > max_width:
                    lines.append(line)
                    line = ""
                line += char
    if line.strip():
        lines.append(line.rstrip())
    return lines


def balance(text: str, measure: Measure, size: float, max_width: float, count: int) -> tuple[str, ...]:
    """Wrap text into count lines of similar width rather than full lines and a stub."""
    narrow, wide = measure(text, size) / count, max_width
    # Bisect for the narrowest width that still needs no extra line.
    for _ in range(10):
        middle = (narrow + wide) / 2
        if len(wrap(text, measure, size, middle)) <= count:
            wide = middle
        else:
            narrow = middle
    return tuple(wrap(text, measure, size, wide))


def truncate(text: str, measure: Measure, size: float, max_width: float) -> str:
    """Cut text and end it with an ellipsis so that it fits max_width."""
    if measure(text, size) <= max_width:
        return text
    while text and measure(text + ELLIPSIS, size) > max_width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS
