"""Reports of runs: aggregation, ranking, tables (markdown/csv/latex/html/json) and plots.

Modules: :mod:`~dpbench.report.aggregate` (rows -> per-dataset scores, the end-of-run summary),
:mod:`~dpbench.report.rank` (average rank), :mod:`~dpbench.report.paper` (the paper's numbers),
:mod:`~dpbench.report.select` (which runs), :mod:`~dpbench.report.tables` (paper-style tables),
:mod:`~dpbench.report.document` (a report), :mod:`~dpbench.report.render` and
:mod:`~dpbench.report.html` (output formats), :mod:`~dpbench.report.plots`,
:mod:`~dpbench.report.qualitative` and :mod:`~dpbench.report.figures` (figures).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dpbench.report import html, render
from dpbench.report.aggregate import AGGREGATIONS, aggregate_rows, aggregate_run, summarize_run
from dpbench.report.document import REPORT_FORMAT, Report, build_report, report_json
from dpbench.report.plots import Plot
from dpbench.report.rank import DEFAULT_TIE_RULE, TIE_RULES, average_ranks, rank_values
from dpbench.report.render import FORMATS
from dpbench.report.select import collect_runs


def render_report(
    report: Report,
    fmt: str,
    *,
    plots: Sequence[Plot] = (),
    notes: Sequence[str] = (),
    plot_links: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`). HTML embeds ``plots``; Markdown links to
    ``plot_links`` (suite -> [(title, path)]), the plots written to disk."""
    if fmt == "markdown":
        return render.render_markdown(report, plot_links)
    if fmt == "csv":
        return render.render_csv(report)
    if fmt == "latex":
        return render.render_latex(report)
    if fmt == "json":
        return render.render_json(report)
    if fmt == "html":
        return html.render_html(report, plots, notes)
    raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")


__all__ = [
    "AGGREGATIONS", "DEFAULT_TIE_RULE", "FORMATS", "REPORT_FORMAT", "TIE_RULES", "Plot", "Report",
    "aggregate_rows", "aggregate_run", "average_ranks", "build_report", "collect_runs",
    "rank_values", "render_report", "report_json", "summarize_run",
]
