"""The Depth Pro paper's published numbers (``baselines/paper/*.csv``) as dpbench results.

The CSVs keep the paper's values as printed (δ in percent); here they are converted to dpbench's
stored units (δ as fractions) and keyed by dpbench dataset and metric names, so that a paper row
and a run's aggregate can sit in the same table. ``baselines/paper/paper.toml`` maps the paper's
dataset keys to dpbench's names and says which suites are comparable; which run is which paper
row is decided by the model cards (:mod:`dpbench.report.identity`).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from pathlib import Path

from dpbench.errors import DpbenchError
from dpbench.resources import load_toml, resource_dir

# (file, column suffix) -> (dpbench metric, divisor from the printed value to dpbench's units).
# "{key}" stands for the paper's dataset key; table4 files hold one dataset each.
_WIDE_TABLES = {
    "table1_metric_delta1.csv": {"_delta1_pct": ("delta1", 100.0)},
    "table2_boundary.csv": {"_f1": ("boundary_f1", 1.0), "_recall": ("boundary_recall", 1.0)},
    "table3_focal.csv": {
        "_delta25_pct": ("focal_delta_25", 100.0),
        "_delta50_pct": ("focal_delta_50", 100.0),
    },
}
#: The output class of each table's numbers (Table 2: per row, from ``group_per_text``).
_TABLE_KINDS = {"table1_metric_delta1.csv": "metric", "table3_focal.csv": "any"}
#: Table 2's "relative" rows are the relative models; its absolute block also lists DPT, a relative
#: model, so the absolute block constrains nothing.
_GROUP_KINDS = {"relative": "relative"}
_PER_DATASET_PREFIX = "table4_"
_PER_DATASET_COLUMNS = {
    "abs_rel": ("abs_rel", 1.0),
    "log10": ("log10", 1.0),
    "delta2_pct": ("delta2", 100.0),
    "delta3_pct": ("delta3", 100.0),
    "si_log": ("silog", 1.0),
    # Point clouds: F and IoU are printed as fractions like dpbench's; CD as printed, read as m²
    # (dpbench's default pointcloud_cd_squared; docs/metrics.md "Point clouds" gives the evidence).
    "pc_cd": ("pc_cd", 1.0),
    "pc_f": ("pc_f", 1.0),
    "pc_iou": ("pc_iou", 1.0),
}
#: Tables of one dataset whose file is not ``table4_*``: file -> (paper dataset key, column ->
#: (dpbench metric, divisor)). The iBims table prints DDE in %, DBE in px, PE in m and degrees
#: (dpbench's units; dpbench.metrics.ibims). Its rows score each method's default output, relative
#: models (DPT, Marigold) unaligned, so its numbers are of "any" output class.
_SINGLE_DATASET_TABLES = {
    "ibims_table.csv": ("ibims", {
        "dde_eps0_pct": ("dde_0", 100.0),
        "dde_eps_minus_pct": ("dde_minus", 100.0),
        "dde_eps_plus_pct": ("dde_plus", 100.0),
        "dbe_acc_px": ("dbe_acc", 1.0),
        "dbe_comp_px": ("dbe_comp", 1.0),
        "pe_plan_m": ("pe_plane", 1.0),
        "pe_orie_deg": ("pe_orientation", 1.0),
    }),
}


@dataclass
class PaperMethod:
    """One method's published numbers: ``results[dataset][metric]`` in dpbench's units."""

    method_id: str
    method: str
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    printed_avg_rank: float | None = None
    not_strictly_zero_shot: bool = False
    notes: list[str] = field(default_factory=list)
    #: metric -> the output class the paper's number is of: "metric", "relative" or "any".
    kinds: dict[str, str] = field(default_factory=dict)

    def kind_of(self, metric: str) -> str:
        """Whether the paper's ``metric`` values come from this method's metric or relative model
        (Tables 1/4: metric; Table 2: its group; Table 3, or a group not stated: any)."""
        return self.kinds.get(metric, "any")


def paper_dir() -> Path:
    """The folder of the paper's CSVs (``baselines/paper``)."""
    return resource_dir("baselines") / "paper"


@functools.lru_cache(maxsize=4)
def _mapping(folder: Path) -> dict:
    path = folder / "paper.toml"
    if not path.exists():
        raise DpbenchError(f"the paper's reference numbers are incomplete: {path} is missing")
    return load_toml(path)


def parse_number(text: str, path: Path, column: str) -> float | None:
    """A number of a paper CSV cell (None when empty); DpbenchError naming the file and column."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise DpbenchError(f"{path}: column {column!r} holds {text!r}, not a number") from None


def read_paper_csv(path: Path) -> list[dict[str, str]]:
    """The rows of one of the paper's CSV files; DpbenchError when the file is missing."""
    if not path.exists():
        raise DpbenchError(f"the paper's reference numbers are incomplete: {path} is missing")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@functools.lru_cache(maxsize=4)
def _load(folder: Path) -> dict[str, PaperMethod]:
    datasets: dict[str, str] = _mapping(folder)["datasets"]
    methods: dict[str, PaperMethod] = {}

    def method_of(row: dict[str, str]) -> PaperMethod:
        return methods.setdefault(row["method_id"], PaperMethod(row["method_id"], row["method"]))

    def put(entry: PaperMethod, key: str, metric: str, value: float | None) -> None:
        if value is not None:
            entry.results.setdefault(datasets.get(key, key), {})[metric] = value

    for file_name, suffixes in _WIDE_TABLES.items():
        path = folder / file_name
        for row in read_paper_csv(path):
            entry = method_of(row)
            kind = _TABLE_KINDS.get(file_name) or _GROUP_KINDS.get((row.get("group_per_text") or "").strip(), "any")
            for column, text in row.items():
                for suffix, (metric, divisor) in suffixes.items():
                    if column.endswith(suffix):
                        entry.kinds[metric] = kind
                        value = parse_number(text, path, column)
                        key = column[: -len(suffix)]
                        put(entry, key, metric, None if value is None else value / divisor)
            note = (row.get("note") or "").strip()
            if note and note not in entry.notes:
                entry.notes.append(note)
            if "avg_rank" in row:
                entry.printed_avg_rank = parse_number(row["avg_rank"], path, "avg_rank")
            if row.get("gray_not_strictly_zero_shot", "").strip().lower() == "true":
                entry.not_strictly_zero_shot = True

    for path in sorted(folder.glob(f"{_PER_DATASET_PREFIX}*.csv")):
        key = path.stem[len(_PER_DATASET_PREFIX):]
        for row in read_paper_csv(path):
            entry = method_of(row)
            for column, (metric, divisor) in _PER_DATASET_COLUMNS.items():
                entry.kinds[metric] = "metric"
                value = parse_number(row.get(column, ""), path, column)
                put(entry, key, metric, None if value is None else value / divisor)

    for file_name, (key, columns) in _SINGLE_DATASET_TABLES.items():
        path = folder / file_name
        for row in read_paper_csv(path):
            entry = method_of(row)
            for column, (metric, divisor) in columns.items():
                value = parse_number(row.get(column, ""), path, column)
                put(entry, key, metric, None if value is None else value / divisor)
    return methods


def paper_results() -> dict[str, PaperMethod]:
    """Every method of the paper's Tables 1–4 and its iBims table, keyed by ``method_id``, in the
    paper's row order."""
    return _load(paper_dir())


def paper_comparable(suite: str | None) -> bool:
    """Whether runs of ``suite`` evaluate the paper's datasets (so the paper's numbers apply)."""
    return suite in _mapping(paper_dir()).get("comparable_suites", [])


def paper_method_for_model(model_name: str) -> str | None:
    """The paper's ``method_id`` a dpbench model's card names (``depthpro`` -> ``depth_pro``), if
    any; a run is matched through :func:`dpbench.report.identity.paper_identity`, which also checks
    the output class and the model options."""
    from dpbench.report.identity import card_paper_method

    return card_paper_method(model_name)
