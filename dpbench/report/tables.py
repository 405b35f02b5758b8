"""The report's tables, laid out like the paper's, independent of the output format.

Runs are grouped by suite (a dataset name means different data in different suites: the sample
suite reuses "middlebury" for synthetic scenes). For each suite, the tables the tasks declare
(:meth:`dpbench.tasks.Task.tables`), in task order; the built-in tasks give:
- Table 1 style: δ1 per dataset and the average rank (see :mod:`dpbench.report.rank`);
- Table 4 style: AbsRel, Log10, δ2, δ3, SI-Log, one table per dataset;
- Table 2 style: boundary F1 (depth GT) and recall (mask GT) per dataset;
- Table 3 style: focal δ25 / δ50 per dataset.
Reference runs (models that read the ground truth, i.e. probes) never compete with models: they
are ranked among themselves only, and bolded only in a table without any model (the sample suite
run with the probes alone). With the paper's numbers on, the paper's methods are ranked and bolded
together with the runs (they are real competitors), and each run of a model the paper evaluated
gets a row of differences.
An entry below full coverage is flagged and, unless failures are scored at the worst value, left
out of bolding and ranking (:mod:`dpbench.report.coverage`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dpbench.oom import OOM_PREFIX
from dpbench.report.aggregate import format_signed, format_value
from dpbench.report.coverage import DEFAULT_FAILURE_MODE, FLAG, is_flagged, is_oom_entry
from dpbench.report.identity import (
    UNTRAINED_MARK,
    is_untrained,
    model_label,
    output_class,
    paper_identity,
)
from dpbench.report.options import SORT_ORDERS
from dpbench.report.paper import PaperMethod, paper_comparable, paper_results
from dpbench.report.rank import DEFAULT_TIE_RULE, average_ranks
from dpbench.tasks import TableSpec, list_tasks, metric_info

RUN, REFERENCE, PAPER, DIFF = "run", "reference", "paper", "diff"
#: With the paper's numbers: a run entry scored on fewer samples than the paper's dataset.
SUBSET_MARK = "‡"
#: A run with random-initialised weights: ranked and bolded only among its kind.
UNTRAINED = "untrained"
#: A relative model's run in a metric-scale table: aligned to the GT, so ranked only among its kind.
ALIGNED = "aligned"
ALIGNED_LABEL = " (aligned to GT)"
#: The row kinds bolded, ranked and sorted together, one pool after the other (the printing order).
RANK_POOLS = ((RUN, PAPER), (REFERENCE,), (UNTRAINED,), (ALIGNED,))
REFERENCE_MARK = "†"
AVG_RANK = "avg_rank"

OOM_NOTE = (f"{OOM_PREFIX}: every sample of the entry that could not be scored ran out of memory (as the "
            "paper's OOM cells); left out of bolding and of the average rank.")
_GRAY_NOTE = "* not strictly zero-shot (a gray row in the paper: domain-specific models or crops)."


@dataclass
class Column:
    """One value column: the ``metric`` of ``dataset`` (dataset None for the average rank)."""

    header: str
    metric: str
    dataset: str | None = None


@dataclass
class Cell:
    """A printed value; ``flagged``: below full coverage; ``excluded``: left out of bolding and
    ranking (a flagged entry unless failures are scored at the worst value)."""

    value: float | None
    text: str
    bold: bool = False
    flagged: bool = False
    excluded: bool = False
    ci_low: float | None = None  # the bootstrap interval with --ci (dpbench.report.ci)
    ci_high: float | None = None


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
    ranks: dict[str, float | None]  # run_id -> average δ1 rank (references: among references)
    paper: bool = False


def _metric_header(metric: str) -> str:
    info = metric_info(metric)
    arrow = "↑" if info.higher_is_better else "↓"
    unit = " %" if info.percent else ""
    return f"{info.label}{unit} {arrow}"


def run_labels(aggregates: list[dict]) -> dict[str, str]:
    """Row labels (:func:`dpbench.report.identity.model_label`: the model name and its options),
    marked when the weights are random, plus the run id where one label has several runs, and
    "rescored from <run>" for a run made by ``dpbench rescore``."""
    names = {agg["run_id"]: model_label(agg) + (f" {UNTRAINED_MARK} random init" if is_untrained(agg) else "")
             for agg in aggregates}
    counts = Counter(names.values())
    labels = {}
    for agg in aggregates:
        name = names[agg["run_id"]]
        label = name if counts[name] == 1 else f"{name} [{agg['run_id']}]"
        if agg.get("rescored_from"):
            label += f" (rescored from {agg['rescored_from']})"
        labels[agg["run_id"]] = label
    return labels


def _row_kind(agg: dict, metric_scale: bool = False) -> str:
    if agg["reference"]:
        return REFERENCE
    if is_untrained(agg):
        return UNTRAINED
    relative = output_class((agg.get("model") or {}).get("output_kind")) == "relative"
    return ALIGNED if metric_scale and relative else RUN


def _datasets_with(aggregates: list[dict], metric: str) -> list[str]:
    names: list[str] = []
    for agg in aggregates:
        for dataset, scores in agg["results"].items():
            if metric in scores and dataset not in names:
                names.append(dataset)
    return names


def _get(results: dict, dataset: str | None, metric: str) -> float | None:
    return results.get(dataset, {}).get(metric) if dataset is not None else None


class _TableBuilder:
    """Fills one table's rows from the suite's runs (and the paper's methods when asked)."""

    def __init__(self, aggregates, labels, paper_methods, matches, failures=DEFAULT_FAILURE_MODE):
        """``matches``: run_id -> (paper method_id, the run's output class)."""
        self.failures = failures
        self.aggregates = aggregates
        self.labels = labels
        self.paper_methods = paper_methods  # method_id -> PaperMethod (empty without --paper)
        self.matches = matches  # run_id -> method_id

    def build(self, key: str, title: str, columns: list[Column], notes: list[str] | None = None, *,
              metric_scale: bool = False) -> Table:
        table = Table(key, title, columns, notes=list(notes or []))
        for agg in self.aggregates:
            kind = _row_kind(agg, metric_scale)
            cells = [self._run_cell(agg, c) for c in columns]
            label = self.labels[agg["run_id"]] + (ALIGNED_LABEL if kind == ALIGNED else "")
            table.rows.append(Row(label, kind, cells, agg["run_id"]))
        if any(row.kind == ALIGNED for row in table.rows):
            table.notes.append("(aligned to GT): a relative model scored after aligning its output to the ground "
                               "truth (which gives it the true scale); bolded and ranked only among such runs, "
                               "in parentheses, never beside metric models.")
        shown = [m for m in self.paper_methods.values()
                 if any(_get(m.results, c.dataset, c.metric) is not None for c in columns)]
        for method in shown:
            cells = [self._cell(c.metric, _get(method.results, c.dataset, c.metric)) for c in columns]
            gray = " *" if method.not_strictly_zero_shot else ""
            table.rows.append(Row(f"{method.method} (paper){gray}", PAPER, cells, method=method.method))
            if method.not_strictly_zero_shot and _GRAY_NOTE not in table.notes:
                table.notes.append(_GRAY_NOTE)
        for agg in self.aggregates:
            method_id, run_class = self.matches.get(agg["run_id"], ("", ""))
            method = self.paper_methods.get(method_id)
            if method is None or method not in shown:
                continue
            comparable = [method.kind_of(c.metric) in ("any", run_class) for c in columns]
            if not any(comparable):  # e.g. a relative run beside the paper's metric row
                continue
            cells = []
            for c, same_kind in zip(columns, comparable, strict=True):
                ours = _get(agg["results"], c.dataset, c.metric)
                theirs = _get(method.results, c.dataset, c.metric) if same_kind else None
                delta = None if ours is None or theirs is None else ours - theirs
                flagged = delta is not None and is_flagged(agg, c.dataset, c.metric)
                subset = delta is not None and _paper_subset(agg, c.dataset)
                text = format_signed(c.metric, delta) + (FLAG if flagged else "") + (SUBSET_MARK if subset else "")
                cells.append(Cell(delta, text, flagged=flagged))
            table.rows.append(Row(f"Δ {self.labels[agg['run_id']]} − {method.method} (paper)", DIFF,
                                  cells, agg["run_id"]))
        if any(cell.flagged for row in table.rows for cell in row.cells):
            table.notes.append(coverage_note(self.failures))
        if any(cell.text == OOM_PREFIX for row in table.rows for cell in row.cells):
            table.notes.append(OOM_NOTE)
        if any(SUBSET_MARK in cell.text for row in table.rows for cell in row.cells):
            table.notes.append(f"{SUBSET_MARK} scored on fewer samples than the paper's dataset (e.g. --limit, "
                               "the sample suite, a partial download): not comparable with the paper's number.")
        _bold_best(table)
        return table

    def _run_cell(self, agg: dict, column: Column) -> Cell:
        value = _get(agg["results"], column.dataset, column.metric)
        cell = self._cell(column.metric, value)
        if (self.failures != "worst" or value is None) and is_oom_entry(agg, column.dataset, column.metric):
            return Cell(value, OOM_PREFIX, excluded=True)  # the paper's OOM cell (value kept for exports)
        if value is not None and is_flagged(agg, column.dataset, column.metric):
            cell.text += FLAG
            cell.flagged = True
            cell.excluded = self.failures != "worst"
        if value is not None and self.paper_methods and _paper_subset(agg, column.dataset):
            cell.text += SUBSET_MARK
        return cell

    @staticmethod
    def _cell(metric: str, value: float | None) -> Cell:
        return Cell(value, format_value(metric, value))


def _bare(text: str) -> str:
    """A printed value without its marks (coverage flag, subset mark)."""
    return text.rstrip(FLAG + SUBSET_MARK)


def _paper_subset(agg: dict, dataset: str | None) -> bool:
    """Whether the run selected fewer samples of ``dataset`` than the paper's (``expected_samples``
    of its dataset spec)."""
    facts = (agg.get("datasets") or {}).get(dataset) or {}
    paper_count = facts.get("expected_samples")
    selected = (agg["results"].get(dataset) or {}).get("num_expected")
    return isinstance(paper_count, int) and isinstance(selected, int) and selected < paper_count


def coverage_note(failures: str) -> str:
    """The footnote of flagged values."""
    if failures == "worst":
        return (f"{FLAG} below full coverage: the unscored samples (errors, not evaluated) are scored at the "
                "worst value (δ, F1, recall 0; error metrics at the dataset's worst per-image value among "
                "the compared runs) and the entry is ranked.")
    return (f"{FLAG} below full coverage: computed on the scored samples only (errors and samples not "
            "evaluated left out), so it is left out of bolding and of the average rank like a missing "
            "entry; `--failures worst` scores the unscored samples at the worst value instead.")


def _bold_pool(table: Table) -> list[Row]:
    """The rows competing for bold: runs and paper methods, or the references when alone."""
    for kinds in RANK_POOLS:
        rows = [row for row in table.rows if row.kind in kinds]
        if rows:
            return rows
    return []


def _bold_best(table: Table, column_indices: list[int] | None = None) -> None:
    """Bold the best value of each column within :func:`_bold_pool` (every cell printing the same)."""
    pool = _bold_pool(table)
    for index in column_indices if column_indices is not None else range(len(table.columns)):
        metric = table.columns[index].metric
        higher = False if metric == AVG_RANK else metric_info(metric).higher_is_better
        cells = [row.cells[index] for row in pool
                 if row.cells[index].value is not None and not row.cells[index].excluded]
        if not cells:
            continue
        best = (max if higher else min)(cells, key=lambda cell: cell.value)
        for cell in cells:  # ties at the printed precision are all bold, as in a printed table
            cell.bold = _bare(cell.text) == _bare(best.text)


def _add_rank_column(table: Table, ties: str, rank_metric: str) -> dict[str, float | None]:
    """Append the average rank on ``rank_metric`` (δ1 for Table 1). Runs and paper methods are ranked together; references are
    ranked among themselves only (printed in parentheses), so a probe never displaces a model."""
    ranks: dict[int, float | None] = {}
    for pool in RANK_POOLS:
        rows = [row for row in table.rows if row.kind in pool]
        values = {id(row): {c.dataset: None if cell.excluded else cell.value
                            for c, cell in zip(table.columns, row.cells, strict=True)}
                  for row in rows}
        ranks.update(average_ranks(values, higher_is_better=metric_info(rank_metric).higher_is_better, ties=ties))
    table.columns.append(Column("Avg. Rank ↓", AVG_RANK))
    run_ranks: dict[str, float | None] = {}
    for row in table.rows:
        rank = ranks.get(id(row))
        text = "-" if rank is None else f"{rank:.1f}" if row.kind == RUN or row.kind == PAPER else f"({rank:.1f})"
        row.cells.append(Cell(rank, text))
        if row.run_id is not None and row.kind != DIFF:
            run_ranks[row.run_id] = rank
    _bold_best(table, [len(table.columns) - 1])
    return run_ranks


#: The groups rows are sorted within, in the order they are printed (as bolded and ranked).


def sort_table(table: Table, sort: str = "rank") -> None:
    """Order ``table``'s rows in place, best first: by Avg. Rank in a table that has it, else by
    the first column in its own direction (δ higher, AbsRel lower); empty cells and cells left
    out of ranking (below full coverage) last, ties by name; or by name (``sort='name'``).
    Models (runs and paper methods) come first, then the references, then random-initialised
    runs, then the Δ rows in the order of the run they belong to."""
    if sort not in SORT_ORDERS:
        raise ValueError(f"unknown sort order {sort!r}; expected one of {SORT_ORDERS}")
    index = len(table.columns) - 1 if table.columns[-1].metric == AVG_RANK else 0
    metric = table.columns[index].metric
    sign = 1.0 if metric == AVG_RANK or not metric_info(metric).higher_is_better else -1.0

    def key(row: Row) -> tuple:
        cell = row.cells[index]
        value = cell.value if sort == "rank" and not cell.excluded else None
        return (value is None, 0.0 if value is None else sign * value, row.label.lower())

    ordered = [row for kinds in RANK_POOLS for row in sorted((r for r in table.rows if r.kind in kinds), key=key)]
    position = {row.run_id: i for i, row in enumerate(ordered) if row.run_id is not None}
    placed = {id(row) for row in ordered}
    rest = [row for row in table.rows if id(row) not in placed]  # Δ rows (and any kind added later)
    table.rows = ordered + sorted(rest, key=lambda row: position.get(row.run_id, len(position)))


def build_suite_section(aggregates: list[dict], *, paper: bool = False, ties: str = DEFAULT_TIE_RULE,
                        failures: str = DEFAULT_FAILURE_MODE, sort: str = "rank") -> SuiteSection:
    """The tables of one suite's runs (all aggregates must share the suite); ``failures``: how
    entries below full coverage are treated (:mod:`dpbench.report.coverage`); rows ordered by
    :func:`sort_table`."""
    suite = aggregates[0]["suite"]
    labels = run_labels(aggregates)
    use_paper = paper and paper_comparable(suite)
    paper_methods: dict[str, PaperMethod] = paper_results() if use_paper else {}
    matches = {}
    if use_paper:
        for agg in aggregates:
            identity = paper_identity(agg)
            if identity:
                matches[agg["run_id"]] = identity
    builder = _TableBuilder(aggregates, labels, paper_methods, matches, failures)
    tables: list[Table] = []
    ranks: dict[str, float | None] = {}

    for spec in _table_specs():
        datasets = {m: _datasets_with(aggregates, m) for m in spec.metrics}
        if spec.layout == "per_dataset":
            for dataset in datasets[spec.metrics[0]]:
                tables.append(builder.build(
                    f"{spec.key}:{dataset}", spec.title.format(dataset=dataset),
                    [Column(_metric_header(m), m, dataset) for m in spec.metrics], metric_scale=spec.metric_scale))
            continue
        columns = [Column(part.column_header(d, metric_info(m)), m, d)
                   for part in spec.parts for d in _datasets_with(aggregates, part.metrics[0])
                   for m in part.metrics]
        if not columns:
            continue
        notes = []
        if spec.rank:
            rank_label = metric_info(spec.metrics[0]).label
            notes.append(f"Avg. Rank: rank on {rank_label} per dataset, averaged over the datasets a model has; "
                         f"ties share the {ties_phrase(ties)} position of the tied group"
                         + ("; the paper's methods are ranked together with the runs" if use_paper else "")
                         + f"; references ({REFERENCE_MARK}) and random-initialised runs ({UNTRAINED_MARK}) "
                         "are each ranked among themselves, in parentheses.")
        table = builder.build(spec.key, spec.title, columns, notes, metric_scale=spec.metric_scale)
        if spec.rank:
            ranks = _add_rank_column(table, ties, spec.metrics[0])
        tables.append(table)
    for table in tables:
        sort_table(table, sort)
    return SuiteSection(suite, aggregates, labels, tables, ranks, use_paper)


@dataclass
class _MergedSpec:
    """The tables of several tasks that share a key, merged column-wise in task order."""

    key: str
    title: str
    layout: str
    rank: bool
    parts: list[TableSpec]

    @property
    def metric_scale(self) -> bool:
        return any(part.metric_scale for part in self.parts)

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(m for part in self.parts for m in part.metrics)


def _table_specs() -> list[_MergedSpec]:
    """Every task's report tables, those sharing a key merged (Table 2: F1 and recall)."""
    merged: dict[str, _MergedSpec] = {}
    for task in list_tasks():
        for spec in task.tables():
            if spec.key in merged:
                merged[spec.key].parts.append(spec)
            else:
                merged[spec.key] = _MergedSpec(spec.key, spec.title, spec.layout, spec.rank, [spec])
    return list(merged.values())


def ties_phrase(ties: str) -> str:
    """How the tie rule reads in a note."""
    return {"max": "worst", "min": "best", "average": "mean"}[ties]


def group_by_suite(aggregates: list[dict]) -> dict[str, list[dict]]:
    """Aggregates grouped by suite, in order of first appearance."""
    groups: dict[str, list[dict]] = {}
    for agg in aggregates:
        groups.setdefault(str(agg["suite"]), []).append(agg)
    return groups
