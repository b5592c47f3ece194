"""Route badge colours that meet WCAG AA contrast (4.5:1 for normal text).

The GTFS route_text_color is kept when it contrasts enough with route_color; otherwise the text is
black or white, whichever contrasts more (one of them always reaches 4.5:1)."""

from __future__ import annotations

import re

AA = 4.5
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def _channel(c: int) -> float:
    s = c / 255.0
    return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of "RRGGBB" (with or without "#")."""
    m = _HEX.fullmatch(hex_colour.strip())
    if not m:
        raise ValueError(f"not a colour: {hex_colour!r}")
    v = m.group(1)
    r, g, b = (int(v[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def badge_colours(color: str | None, text_color: str | None, *, fallback: str = "455A64") -> tuple[str, str]:
    """(background, text) as "#RRGGBB" for a route badge; the text meets AA on the background."""
    bg = color if color and _HEX.fullmatch(color) else fallback
    bg = bg.lstrip("#").upper()
    if text_color and _HEX.fullmatch(text_color) and contrast(bg, text_color) >= AA:
        return "#" + bg, "#" + text_color.lstrip("#").upper()
    text = "000000" if contrast(bg, "000000") >= contrast(bg, "FFFFFF") else "FFFFFF"
    return "#" + bg, "#" + text
