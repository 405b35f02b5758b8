"""Reports of runs: aggregation, ranking, tables (markdown/csv/latex/html/json) and plots.

Modules: :mod:`~dpbench.report.aggregate` (rows -> per-dataset scores, the end-of-run summary),
:mod:`~dpbench.report.rank` (average rank), :mod:`~dpbench.report.paper` (the paper's numbers),
:mod:`~dpbench.report.select` (which runs), :mod:`~dpbench.report.tables` (paper-style tables),
:mod:`~dpbench.report.document` (a report), :mod:`~dpbench.report.render` and
:mod:`~dpbench.report.html` (output formats), :mod:`~dpbench.report.plots`,
:mod:`~dpbench.report.qualitative`, :mod:`~dpbench.report.side_by_side`,
:mod:`~dpbench.report.qualitative_select` and :mod:`~dpbench.report.figures` (figures),
:mod:`~dpbench.report.runtime` (speed runs: the Table 5-style runtime table, the Fig. 2 scatter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import Any

#: Public names and the submodule each comes from (imported on first use, so that the light
#: modules, e.g. :mod:`~dpbench.report.options`, can be imported without pandas and matplotlib).
_LAZY = {
    "AGGREGATIONS": "dpbench.protocol",
    "aggregate_rows": "dpbench.report.aggregate", "aggregate_run": "dpbench.report.aggregate",
    "summarize_run": "dpbench.report.aggregate",
    "REPORT_FORMAT": "dpbench.report.document", "Report": "dpbench.report.document",
    "build_report": "dpbench.report.document", "report_json": "dpbench.report.document",
    "Plot": "dpbench.report.plots",
    "DEFAULT_TIE_RULE": "dpbench.report.options", "TIE_RULES": "dpbench.report.options",
    "FORMATS": "dpbench.report.options",
    "average_ranks": "dpbench.report.rank", "rank_values": "dpbench.report.rank",
    "collect_runs": "dpbench.report.select",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dpbench.report' has no attribute {name!r}")


def render_report(
    report: Any,
    fmt: str,
    *,
    plots: Sequence[Any] = (),
    notes: Sequence[str] = (),
    plot_links: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`). HTML embeds ``plots``; Markdown links to
    ``plot_links`` (suite -> [(title, path)]), the plots written to disk."""
    from dpbench.report import html, render
    from dpbench.report.options import FORMATS

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


__all__ = [*_LAZY, "render_report"]
