"""Plain-text tables for terminal output (the CLI's listings and summaries).

Listings such as ``dpbench models`` have long cells (paths, layouts, install hints); given a
``width`` (the terminal's, :func:`terminal_width`), :func:`format_table` fits the table into it:
the columns named in ``wrap`` are wrapped onto continuation lines, never cut (the fields that say
why something failed or what to install), and the other columns are cut with "…", widest first.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Collection, Mapping, Sequence

#: Narrowest a cut column gets (wider when its header is).
MIN_CUT_WIDTH = 6
#: Narrowest a wrapped column gets (wider when its header is).
MIN_WRAP_WIDTH = 12
#: Space between two columns.
GAP = "  "


def terminal_width() -> int | None:
    """Columns of the terminal: ``$COLUMNS`` if set, else the width of the terminal standard
    output is on; None when it goes to a file or a pipe (print in full, for grep and logs)."""
    if os.environ.get("COLUMNS", "").strip().isdigit():
        return int(os.environ["COLUMNS"])
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def format_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None, *,
                 width: int | None = None, wrap: Collection[str] = ()) -> str:
    """Render rows (dicts) as an aligned text table; ``columns`` picks and orders the keys.

    Without ``width`` every cell is printed in full. With ``width``, the table is narrowed until
    each line fits (when it can: wrapped and cut columns stop at a minimum width): ``wrap``
    columns are wrapped, the others cut with "…".
    """
    if not rows:
        return "(no rows)"
    columns = list(columns) if columns is not None else list(rows[0].keys())
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    if width is not None:
        widths = _fit(columns, widths, width, set(wrap))
    header = GAP.join(col[:w].ljust(w) for col, w in zip(columns, widths, strict=True))
    rule = GAP.join("-" * w for w in widths)
    body = []
    for r in cells:
        pieces = [_lines(text, w, col in wrap) for text, w, col in zip(r, widths, columns, strict=True)]
        for k in range(max(len(p) for p in pieces)):
            line = GAP.join((p[k] if k < len(p) else "").ljust(w) for p, w in zip(pieces, widths, strict=True))
            body.append(line.rstrip())
    return "\n".join([header.rstrip(), rule, *body])


def _fit(columns: Sequence[str], widths: list[int], width: int, wrap: set[str]) -> list[int]:
    """Column widths whose total fits ``width``: take one character at a time from the widest
    column that can still give one (so long columns end up equally wide; short ones stay whole)."""
    widths = list(widths)
    floors = [max(len(col), MIN_WRAP_WIDTH if col in wrap else MIN_CUT_WIDTH) for col in columns]
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
    while excess > 0:
        candidates = [i for i in range(len(columns)) if widths[i] > floors[i]]
        if not candidates:  # every column is at its minimum: the lines stay too long
            break
        widest = max(candidates, key=lambda i: (widths[i], columns[i] not in wrap))
        widths[widest] -= 1
        excess -= 1
    return widths


def _lines(text: str, width: int, wrap: bool) -> list[str]:
    """A cell as the lines it takes: all of it wrapped, or one line cut with "…"."""
    if len(text) <= width:
        return [text]
    if wrap:
        return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]
    return [text[: width - 1] + "…"]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
