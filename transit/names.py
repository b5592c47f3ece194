"""Names as search compares them: accents stripped, case folded, spaces collapsed.

Punctuation counts as a space. The same key is stored with each stop at import (Stop.search_name) and computed from what people
type, so a search compares plain strings on PostgreSQL and SQLite alike ("Señora Ñuñez" and
"senora nunez" meet; "Straße" and "strasse" too, by case folding).
"""

from __future__ import annotations

import unicodedata

MAX_KEY = 255


def search_key(text: str | None) -> str:
    """`text` decomposed (NFKD), without its combining marks, case folded, punctuation as spaces,
    whitespace collapsed."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = "".join(c if c.isalnum() else " " for c in plain)  # "Saint-Lazare" and "saint lazare" meet
    return " ".join(words.split())[:MAX_KEY]
