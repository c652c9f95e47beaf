"""An address as the hotline compares it (并单: the same address in the same category), the
form kept beside each ticket's address (``tickets.address_norm``, indexed). Imports nothing
of the project."""

from __future__ import annotations

__all__ = ["SPACES", "normalise_address"]

#: the spaces an address loses (ASCII, the ideographic space, no-break space, tab, newlines)
SPACES = " \u3000\u00a0\t\n\r"
# full-width ASCII (U+FF01..U+FF5E) as ASCII, the spaces removed
_FOLD: dict[int, int | None] = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD.update({ord(c): None for c in SPACES})
#: the longest normalised address kept (the column's width; the address itself is 255 at most)
NORM_WIDTH = 255


def normalise_address(text: str) -> str:
    """An address as compared: full-width letters, digits and signs as ASCII (全角
    ``１２号`` is ``12号``), without :data:`SPACES`, ASCII letters in lower case; every
    other character as it is."""
    folded = "".join(c.lower() if c.isascii() else c for c in text.translate(_FOLD))
    return folded[:NORM_WIDTH]
