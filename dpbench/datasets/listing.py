"""The rows of ``dpbench datasets``: every registered dataset, its layout, and what is on disk."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dpbench.datasets import dataset_names, find_dataset_root, get_dataset_class
from dpbench.datasets.base import load_spec

log = logging.getLogger(__name__)

#: The columns ``dpbench datasets`` prints, in order.
LIST_COLUMNS = ("name", "task", "found", "samples", "layout", "notes")
#: Columns wrapped, never cut, when the table is fitted to the terminal: ``notes`` says why a
#: dataset did not open.
WRAP_COLUMNS = ("notes",)
#: Longest layout or note kept in a row unless ``full`` (the terminal table cuts further).
ONE_LINE_LIMIT = 160


def _one_line(text: str, limit: int | None = ONE_LINE_LIMIT) -> str:
    text = " ".join(str(text).split())
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def dataset_row(name: str, data_root: str | os.PathLike | None, full: bool = False) -> dict:
    """One row: name, task, found (None without a data root), samples of the default split,
    root, layout, expected (the spec's sample count) and notes (why it did not open).

    Layouts and notes are single lines of at most 160 characters, or complete with ``full``.
    """
    limit = None if full else ONE_LINE_LIMIT
    row: dict = {"name": name, "task": None, "found": None, "samples": None, "root": None, "layout": "",
                 "expected": None, "notes": ""}
    try:
        cls = get_dataset_class(name)
        spec = load_spec(name)
    except Exception as exc:  # a broken plug-in or spec file must not break the listing
        row["notes"] = _one_line(f"cannot load: {exc}", limit)
        return row
    row.update(task=cls.task, layout=_one_line(cls.layout or spec.get("layout", ""), limit),
               expected=spec.get("expected_samples"))
    if data_root is None:
        return row
    try:
        root = find_dataset_root(name, data_root)
    except Exception as exc:
        row.update(found=False, notes=_one_line(f"layout check failed: {exc}", limit))
        return row
    row["found"] = root is not None
    if root is None:
        return row
    row["root"] = str(root)
    try:
        dataset = cls(root)
    except Exception as exc:
        row["notes"] = _one_line(f"found but does not open: {exc}", limit)
        return row
    row["samples"] = len(dataset)
    notes = []
    if dataset.excluded:
        notes.append("excluded " + ", ".join(f"{n} ({reason})" for reason, n in dataset.exclusion_summary().items()))
    if row["expected"] is not None and row["samples"] != row["expected"]:
        notes.append(f"protocol expects {row['expected']}")
    row["notes"] = _one_line("; ".join(notes), limit)
    return row


def dataset_rows(data_root: Path | str | None, full: bool = False) -> list[dict]:
    """Rows for every registered dataset (see :func:`dataset_row`), sorted by name."""
    return [dataset_row(name, data_root, full) for name in dataset_names()]
