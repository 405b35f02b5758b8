"""The report's tables, laid out like the paper's, independent of the output format.

Runs are grouped by suite (a dataset name means different data in different suites: the sample
suite reuses "middlebury" for synthetic scenes). For each suite:
- Table 1 style: δ1 per dataset and the average rank (see :mod:`dpbench.report.rank`);
- Table 4 style: AbsRel, Log10, δ2, δ3, SI-Log, one table per dataset;
- Table 2 style: boundary F1 (depth GT) and recall (mask GT) per dataset;
- Table 3 style: focal δ25 / δ50 per dataset.
Reference runs (models that read the ground truth, i.e. probes) are listed but neither ranked nor
bolded. With the paper's numbers on, their rows join the ranking and bolding (they are real
competitors), and each run of a model the paper evaluated gets a row of differences.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dpbench.metrics import METRICS
from dpbench.report.aggregate import format_value
from dpbench.report.paper import (
    PaperMethod,
    paper_comparable,
    paper_method_for_model,
    paper_results,
)
from dpbench.report.rank import DEFAULT_TIE_RULE, average_ranks

RUN, REFERENCE, PAPER, DIFF = "run", "reference", "paper", "diff"
AVG_RANK = "avg_rank"

TABLE4_METRICS = ("abs_rel", "log10", "delta2", "delta3", "silog")
TABLE3_METRICS = ("focal_delta_25", "focal_delta_50")
RANK_METRIC = "delta1"
_GRAY_NOTE = "* not strictly zero-shot (a gray row in the paper: domain-specific models or crops)."


@dataclass
class Column:
    """One value column: the ``metric`` of ``dataset`` (dataset None for the average rank)."""

    header: str
    metric: str
    dataset: str | None = None


@dataclass
class Cell:
    value: float | None
    text: str
    bold: bool = False


@dataclass
class Row:
    """A table row: a run, a reference run, a paper method, or run − paper differences."""

    label: str
    kind: str
    cells: list[Cell]
    run_id: str | None = None
    method: str | None = None  # the paper's method name (paper rows)


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class SuiteSection:
    """Everything the report shows for one suite."""

    suite: str
    aggregates: list[dict]
    labels: dict[str, str]  # run_id -> row label
    tables: list[Table]
    ranks: dict[str, float | None]  # run_id -> average δ1 rank (None: not ranked)
    paper: bool = False


def _metric_header(metric: str) -> str:
    info = METRICS[metric]
    arrow = "↑" if info.higher_is_better else "↓"
    unit = " %" if info.percent else ""
    return f"{info.label}{unit} {arrow}"


def run_labels(aggregates: list[dict]) -> dict[str, str]:
    """Row labels: the model name, plus the run id where one model has several runs."""
    counts = Counter(agg["model"].get("name", "?") for agg in aggregates)
    labels = {}
    for agg in aggregates:
        name = agg["model"].get("name", "?")
        labels[agg["run_id"]] = name if counts[name] == 1 else f"{name} [{agg['run_id']}]"
    return labels


def _datasets_with(aggregates: list[dict], metric: str) -> list[str]:
    names: list[str] = []
    for agg in aggregates:
        for dataset, scores in agg["results"].items():
            if metric in scores and dataset not in names:
                names.append(dataset)
    return names


def _diff_text(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    text = format_value(metric, abs(value))
    return ("+" if value >= 0 else "−") + text


def _get(results: dict, dataset: str | None, metric: str) -> float | None:
    return results.get(dataset, {}).get(metric) if dataset is not None else None


class _TableBuilder:
    """Fills one table's rows from the suite's runs (and the paper's methods when asked)."""

    def __init__(self, aggregates, labels, paper_methods, matches):
        self.aggregates = aggregates
        self.labels = labels
        self.paper_methods = paper_methods  # method_id -> PaperMethod (empty without --paper)
        self.matches = matches  # run_id -> method_id

    def build(self, key: str, title: str, columns: list[Column], notes: list[str] | None = None) -> Table:
        table = Table(key, title, columns, notes=list(notes or []))
        for agg in self.aggregates:
            kind = REFERENCE if agg["reference"] else RUN
            cells = [self._cell(c.metric, _get(agg["results"], c.dataset, c.metric)) for c in columns]
            table.rows.append(Row(self.labels[agg["run_id"]], kind, cells, agg["run_id"]))
        shown = [m for m in self.paper_methods.values()
                 if any(_get(m.results, c.dataset, c.metric) is not None for c in columns)]
        for method in shown:
            cells = [self._cell(c.metric, _get(method.results, c.dataset, c.metric)) for c in columns]
            gray = " *" if method.not_strictly_zero_shot else ""
            table.rows.append(Row(f"{method.method} (paper){gray}", PAPER, cells, method=method.method))
            if method.not_strictly_zero_shot and _GRAY_NOTE not in table.notes:
                table.notes.append(_GRAY_NOTE)
        for agg in self.aggregates:
            method = self.paper_methods.get(self.matches.get(agg["run_id"], ""))
            if method is None or method not in shown:
                continue
            cells = []
            for c in columns:
                ours, theirs = _get(agg["results"], c.dataset, c.metric), _get(method.results, c.dataset, c.metric)
                delta = None if ours is None or theirs is None else ours - theirs
                cells.append(Cell(delta, _diff_text(c.metric, delta)))
            table.rows.append(Row(f"Δ {self.labels[agg['run_id']]} − {method.method} (paper)", DIFF,
                                  cells, agg["run_id"]))
        _bold_best(table)
        return table

    @staticmethod
    def _cell(metric: str, value: float | None) -> Cell:
        return Cell(value, format_value(metric, value))


def _bold_best(table: Table) -> None:
    """Bold the best value of each column among ranked rows (runs and paper methods)."""
    for index, column in enumerate(table.columns):
        higher = METRICS[column.metric].higher_is_better
        ranked = [row.cells[index] for row in table.rows
                  if row.kind in (RUN, PAPER) and row.cells[index].value is not None]
        if not ranked:
            continue
        best = (max if higher else min)(cell.value for cell in ranked)
        for cell in ranked:
            cell.bold = cell.value == best


def _add_rank_column(table: Table, ties: str) -> dict[str, float | None]:
    """Append the average δ1 rank (runs and paper rows; references and diffs get none)."""
    ranked_rows = [row for row in table.rows if row.kind in (RUN, PAPER)]
    values = {id(row): {c.dataset: cell.value for c, cell in zip(table.columns, row.cells, strict=True)}
              for row in ranked_rows}
    ranks = average_ranks(values, higher_is_better=METRICS[RANK_METRIC].higher_is_better, ties=ties)
    table.columns.append(Column("Avg. Rank ↓", AVG_RANK))
    run_ranks: dict[str, float | None] = {}
    for row in table.rows:
        rank = ranks.get(id(row))
        row.cells.append(Cell(rank, "-" if rank is None else f"{rank:.1f}"))
        if row.kind == RUN:
            run_ranks[row.run_id] = rank
    present = [row.cells[-1] for row in ranked_rows if row.cells[-1].value is not None]
    if present:
        best = min(cell.value for cell in present)
        for cell in present:
            cell.bold = cell.value == best
    return run_ranks


def build_suite_section(aggregates: list[dict], *, paper: bool = False,
                        ties: str = DEFAULT_TIE_RULE) -> SuiteSection:
    """The tables of one suite's runs (all aggregates must share the suite)."""
    suite = aggregates[0]["suite"]
    labels = run_labels(aggregates)
    use_paper = paper and paper_comparable(suite)
    paper_methods: dict[str, PaperMethod] = paper_results() if use_paper else {}
    matches = {}
    if use_paper:
        for agg in aggregates:
            method_id = paper_method_for_model(agg["model"].get("name", ""))
            if method_id:
                matches[agg["run_id"]] = method_id
    builder = _TableBuilder(aggregates, labels, paper_methods, matches)
    tables: list[Table] = []
    ranks: dict[str, float | None] = {}

    depth_sets = _datasets_with(aggregates, RANK_METRIC)
    if depth_sets:
        table = builder.build(
            "table1", "Metric depth: δ1 (%) and average rank (Table 1 style)",
            [Column(d, RANK_METRIC, d) for d in depth_sets],
            [f"Avg. Rank: rank on δ1 per dataset, averaged over the datasets a model has; "
             f"ties share the {ties_phrase(ties)} position of the tied group"
             + ("; the paper's methods are ranked together with the runs." if use_paper else ".")],
        )
        ranks = _add_rank_column(table, ties)
        tables.append(table)
        for dataset in depth_sets:
            tables.append(builder.build(
                f"table4:{dataset}", f"Metric depth on {dataset}: other metrics (Table 4 style)",
                [Column(_metric_header(m), m, dataset) for m in TABLE4_METRICS]))

    boundary_columns = [Column(f"{d} F1", "boundary_f1", d) for d in _datasets_with(aggregates, "boundary_f1")]
    boundary_columns += [Column(f"{d} R", "boundary_recall", d)
                         for d in _datasets_with(aggregates, "boundary_recall")]
    if boundary_columns:
        tables.append(builder.build(
            "table2", "Boundary accuracy: scale-invariant F1 (depth GT) and recall (mask GT) (Table 2 style)",
            boundary_columns))

    focal_sets = _datasets_with(aggregates, TABLE3_METRICS[0])
    if focal_sets:
        tables.append(builder.build(
            "table3", "Focal length: share of images with relative error < 25% / < 50% (Table 3 style)",
            [Column(f"{d} {'δ25' if m.endswith('25') else 'δ50'}", m, d)
             for d in focal_sets for m in TABLE3_METRICS]))
    return SuiteSection(suite, aggregates, labels, tables, ranks, use_paper)


def ties_phrase(ties: str) -> str:
    """How the tie rule reads in a note."""
    return {"max": "worst", "min": "best", "average": "mean"}[ties]


def group_by_suite(aggregates: list[dict]) -> dict[str, list[dict]]:
    """Aggregates grouped by suite, in order of first appearance."""
    groups: dict[str, list[dict]] = {}
    for agg in aggregates:
        groups.setdefault(str(agg["suite"]), []).append(agg)
    return groups
