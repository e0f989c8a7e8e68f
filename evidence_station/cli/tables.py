"""Tables that fit the terminal: one line per row, never a cell wrapped over six lines.

A list is read down its rows; a row folded into a tower of fragments cannot be read at
all (issue 19: `clips` in a 150-column terminal). So each column gets a width, the
columns that may shrink give way first (widest first, down to their minimum), and a
value that still does not fit ends in "…". Ids are shown as their shortest unique
prefix (at least 8 hex digits) — every command accepts a prefix — and the full values
are in ``show`` and in ``--json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported when a table is drawn: `clips --json` never pays for it
    from rich.console import Console
    from rich.table import Table

SHORT_ID = 8


@dataclass(frozen=True)
class Col:
    header: str
    minimum: int = 6  # a shrinking column keeps at least this many cells
    shrink: bool = True  # ids and times keep their width
    justify: str = "left"


def short_ids(ids: Iterable[str], minimum: int = SHORT_ID) -> dict[str, str]:
    """Each id's shortest prefix (≥ ``minimum``) that no other id of ``ids`` shares."""
    ordered = sorted(set(ids))
    result = {}
    for index, full in enumerate(ordered):
        length = minimum
        neighbours = (ordered[index - 1] if index else "",
                      ordered[index + 1] if index + 1 < len(ordered) else "")
        for other in neighbours:
            common = 0
            while common < min(len(full), len(other)) and full[common] == other[common]:
                common += 1
            length = max(length, common + 1)
        result[full] = full[:min(length, len(full))]
    return result


def widths(width: int, columns: Sequence[Col], rows: Sequence[Sequence[str]]) -> list[int]:
    """Column widths that fit ``width`` cells (a space between columns)."""
    from rich.cells import cell_len

    natural = [max([cell_len(c.header), *(cell_len(row[i]) for row in rows)])
               for i, c in enumerate(columns)]
    budget = width - (len(columns) - 1)
    sizes = list(natural)
    while sum(sizes) > budget:
        candidates = [i for i, c in enumerate(columns) if c.shrink and sizes[i] > c.minimum]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: sizes[i])
        sizes[widest] -= 1
    return sizes


def fitted(console: Console, columns: Sequence[Col], rows: Sequence[Sequence[str]],
           title: str | None = None) -> Table:
    """A borderless table whose every row is one line of at most the console's width."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    sizes = widths(console.width, columns, rows)
    # SIMPLE_HEAD divides columns with one space and rules the header: no padding needed
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=0, title=title, show_edge=False)
    for column, size in zip(columns, sizes, strict=True):
        table.add_column(_cut(column.header, size), width=size, no_wrap=True,
                         overflow="ellipsis", justify=column.justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(Text(_cut(value, size)) for value, size in zip(row, sizes, strict=True)))
    return table


def _cut(value: str, size: int) -> str:
    from rich.cells import cell_len
    from rich.text import Text

    if cell_len(value) <= size:
        return value
    text = Text(value)
    text.truncate(size, overflow="ellipsis")
    return text.plain
