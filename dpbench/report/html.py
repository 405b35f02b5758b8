"""The report as one self-contained HTML file: inline CSS, tables, and the plots embedded as
base64 PNG data URIs (no external file, script or font)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from dpbench.report.document import Report
from dpbench.report.plots import Plot
from dpbench.report.render import LEGEND, missing_lines, protocol_split, row_label, runs_rows
from dpbench.report.tables import DIFF, PAPER, REFERENCE, Table
from dpbench.report.upperbound import upperbound_text

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #888; }
tr.reference td { color: #777; font-style: italic; }
tr.paper td { color: #335; background: #f4f6fb; }
tr.diff td { color: #666; font-size: .85em; }
p.note, li.note { color: #555; font-size: .88em; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
code { background: #f3f3f3; padding: 0 .25em; }
"""

_ROW_CLASS = {REFERENCE: "reference", PAPER: "paper", DIFF: "diff"}


def _table_html(header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def table_html(table: Table) -> str:
    """One report table as HTML (best values in <strong>)."""
    header = ["Model"] + [c.header for c in table.columns]
    rows = [[escape(row_label(row))] + [f"<strong>{escape(c.text)}</strong>" if c.bold else escape(c.text)
                                        for c in row.cells] for row in table.rows]
    classes = [_ROW_CLASS.get(row.kind, "") for row in table.rows]
    return _table_html(header, rows, classes)


def plot_html(plot: Plot) -> str:
    """A figure with the PNG embedded as a data URI; its id is the plot's name (a link target,
    e.g. ``report.html#sample_side_by_side``)."""
    data = base64.b64encode(plot.png).decode("ascii")
    return (f'<figure id="{escape(plot.name)}"><img alt="{escape(plot.title)}" '
            f'src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(plot.title)}</figcaption></figure>")


def render_html(report: Report, plots: Sequence[Plot] = (), notes: Sequence[str] = ()) -> str:
    """The whole report as one HTML document; ``notes`` (e.g. why a figure is missing) are listed
    after the report's own notes."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>dpbench report</title>", f"<style>{_STYLE}</style></head><body>",
           "<h1>dpbench report</h1>",
           f"<p>Generated {escape(report.generated)} from {len(report.stores)} run(s).</p>",
           f'<p class="note">{escape(LEGEND)}</p>']
    for section in report.sections:
        out.append(f"<h2>Suite <code>{escape(section.suite)}</code></h2>")
        common, _ = protocol_split(section)
        if common:
            items = "".join(f"<li><code>{escape(k)}</code> = {escape(v)}</li>" for k, v in common.items())
            out.append(f"<p>Protocol of every run:</p><ul>{items}</ul>")
        header, rows = runs_rows(section)
        out.append(_table_html(header, [[escape(c) for c in row] for row in rows]))
        lines = missing_lines(section)
        if lines:
            out.append("<ul>" + "".join(f'<li class="note">{escape(line)}</li>' for line in lines) + "</ul>")
        for table in section.tables:
            out.append(f"<h3>{escape(table.title)}</h3>")
            out.append(table_html(table))
            out += [f'<p class="note">{escape(note)}</p>' for note in table.notes]
        if (bound := upperbound_text(section)) is not None:  # Table 7 layout of probe:gt-resample runs
            out += [f"<h3>{escape(bound.title)}</h3>", _table_html(bound.header, [[escape(c) for c in r]
                    for r in bound.rows]), f'<p class="note">{escape(bound.note)}</p>']
        section_plots = [plot for plot in plots if plot.suite == section.suite]
        if section_plots:
            out.append("<h3>Figures</h3>")
            out += [plot_html(plot) for plot in section_plots]
    if report.runtime is not None:  # speed runs (dpbench.report.runtime)
        table = report.runtime.table
        out += ["<h2>Speed</h2>", f"<h3>{escape(table.title)}</h3>", table_html(table)]
        out += [f'<p class="note">{escape(note)}</p>' for note in table.notes]
        out += [plot_html(plot) for plot in plots if plot.suite == "speed"]
    every_note = [*report.notes, *notes]
    if every_note:
        out.append("<h2>Notes</h2><ul>" + "".join(f'<li class="note">{escape(n)}</li>' for n in every_note)
                   + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
