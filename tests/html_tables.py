"""Read the tables of a notebook view (``_repr_html_``) back into text, with the stdlib parser.

Entities are decoded, so a cell reads as the value it shows; ``tags`` records every element
seen, so a test can tell escaped text from markup that got through.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict[str, Any]] = []
        self.tags: set[str] = set()
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("caption", "th", "td"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self.tables[-1]["rows"][-1].append("".join(self._text or []))
        elif tag == "caption":
            self.tables[-1]["caption"] = "".join(self._text or [])
        self._text = None if tag in ("caption", "th", "td") else self._text

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def parse(markup: str) -> _Tables:
    """Every table of ``markup`` (``.tables``: caption and rows of cell texts) and ``.tags``."""
    parser = _Tables()
    parser.feed(markup)
    parser.close()
    return parser


def summary(markup: str, index: int = 0) -> dict[str, str]:
    """The name → value rows of the ``index``-th table of ``markup``."""
    rows = parse(markup).tables[index]["rows"]
    assert all(len(row) == 2 for row in rows), rows
    return dict(rows)
