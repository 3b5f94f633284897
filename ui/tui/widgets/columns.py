"""Text in columns, padded by hand: what the order screen needs of a table, at a fraction of the cost.

Like a Rich table with ``box=None, expand=True, pad_edge=False``: two spaces
between columns, a bold heading row, columns with a ratio share the width left
over, and a cell too long for its column wraps onto more lines.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from textual.content import Content

GAP = 2
Cell = str | tuple[str, str]  # text, or (text, style)


@dataclass(frozen=True)
class Column:
    heading: str
    ratio: int | None = None
    right: bool = False


def _text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]


def widths(columns: list[Column], rows: list[list[Cell]], width: int) -> list[int]:
    natural = [max([len(c.heading)] + [len(_text(row[i])) for row in rows]) for i, c in enumerate(columns)]
    room = max(len(columns), width - GAP * (len(columns) - 1))
    ratios = [c.ratio or 0 for c in columns]
    fixed = [0 if ratio else n for ratio, n in zip(ratios, natural, strict=True)]
    if any(ratios):
        spare = room - sum(fixed)
        total = sum(ratios)
        flex = [max(1, spare * r // total) if r else 0 for r in ratios]
        # The rounding remainder goes to the last flexible column.
        last = max(i for i, r in enumerate(ratios) if r)
        flex[last] += max(0, spare - sum(flex))
        result = [f or x for f, x in zip(flex, fixed, strict=True)]
    else:
        result = fixed
    # Too wide: narrow the widest column a cell at a time; its text wraps.
    while sum(result) > room and max(result) > 1:
        result[result.index(max(result))] -= 1
    return result


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def table(columns: list[Column], rows: list[list[Cell]], width: int) -> list[Content]:
    """The heading line and the rows' lines, each at most ``width`` cells wide."""
    sizes = widths(columns, rows, width)
    lines: list[Content] = []
    heading: list[Cell] = [c.heading for c in columns]
    drawn: list[tuple[list[Cell], str]] = [(heading, "bold"), *((r, "") for r in rows)]
    for row, style in drawn:
        cells = [_wrap(_text(cell), size) for cell, size in zip(row, sizes, strict=True)]
        styles = [style or ("" if isinstance(cell, str) else cell[1]) for cell in row]
        for n in range(max(len(c) for c in cells)):
            parts: list[str | tuple[str, str]] = []
            for i, (column, size) in enumerate(zip(columns, sizes, strict=True)):
                text = cells[i][n] if n < len(cells[i]) else ""
                pad = " " * (size - len(text))
                last = i == len(columns) - 1
                if column.right:
                    parts += [pad, (text, styles[i])]
                else:
                    parts += [(text, styles[i]), "" if last else pad]
                if not last:
                    parts.append(" " * GAP)
            lines.append(Content.assemble(*parts))
    return lines
