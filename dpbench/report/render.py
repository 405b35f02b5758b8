"""Text renderings of a report: Markdown, CSV (tidy, one value per line), LaTeX and JSON.

The HTML rendering, which embeds the plots, is in :mod:`dpbench.report.html`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence

from dpbench.report.document import Report, report_json
from dpbench.report.tables import AVG_RANK, PAPER, REFERENCE, REFERENCE_MARK, SuiteSection, Table
from dpbench.report.upperbound import upperbound_markdown

LEGEND = ("δ1–δ3 and the focal δ25/δ50 are percentages; the other metrics are printed as stored. "
          "↑ higher is better, ↓ lower is better; the best value of each column is bold. "
          f"{REFERENCE_MARK} reference run: the model reads the ground truth (a probe); references are "
          "ranked among themselves (in parentheses) and bolded only where no model is shown.")


# --- shared pieces ------------------------------------------------------------------------

def row_label(row) -> str:
    """The printed row label (references carry the reference mark)."""
    return f"{row.label} {REFERENCE_MARK}" if row.kind == REFERENCE else row.label


def _option_text(value) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_option_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_option_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "-"
    return str(value)


def protocol_split(section: SuiteSection) -> tuple[dict[str, str], list[str]]:
    """Protocol options shared by every run of the section, and the names of those that differ."""
    options: list[str] = []
    for agg in section.aggregates:
        options += [k for k in agg["protocol"] if k not in options]
    texts = {k: {_option_text(agg["protocol"].get(k)) for agg in section.aggregates} for k in options}
    common = {k: next(iter(v)) for k, v in texts.items() if len(v) == 1}
    varying = [k for k in options if len(texts[k]) > 1]
    return common, varying


def runs_rows(section: SuiteSection) -> tuple[list[str], list[list[str]]]:
    """The "runs" table of a section: who ran what, where, and how many samples."""
    header = ["Model", "Run", "Status", "Created", "Device", "Precision", "Checkpoint sha256",
              "Samples", "Errors", "Coverage"]
    _, varying = protocol_split(section)
    header += varying
    rows = []
    for agg in section.aggregates:
        env, model = agg.get("environment", {}), agg["model"]
        sha = model.get("checkpoint_sha256") or ""
        samples = sum(r.get("num_samples", 0) for r in agg["results"].values())
        errors = sum(r.get("num_errors", 0) for r in agg["results"].values())
        scored = sum(r.get("num_scored", 0) for r in agg["results"].values())
        expected = sum(r.get("num_expected", 0) for r in agg["results"].values())
        coverage = f"{scored}/{expected}" if expected else "-"
        label = section.labels[agg["run_id"]] + (f" {REFERENCE_MARK}" if agg["reference"] else "")
        row = [label, str(agg["run_id"]), str(agg.get("status") or "-"), str(agg.get("created") or "-"),
               str(env.get("device_name") or env.get("device") or "-"), str(env.get("precision") or "-"),
               sha[:12] or "-", str(samples), str(errors), coverage]
        row += [_option_text(agg["protocol"].get(k)) for k in varying]
        rows.append(row)
    return header, rows


def missing_lines(section: SuiteSection) -> list[str]:
    """One line per dataset a run could not score (missing data, errors)."""
    lines = []
    for agg in section.aggregates:
        for name, facts in agg.get("datasets", {}).items():
            status = facts.get("status")
            if status in ("missing", "error", "partial") or name not in agg["results"]:
                reason = facts.get("reason") or "no rows"
                lines.append(f"{section.labels[agg['run_id']]}: {name} {status or 'not scored'} ({reason})")
    return lines


# --- markdown -----------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align_right_from: int = 1) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "|".join("---" if i < align_right_from else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_table(table: Table) -> str:
    """One report table as a Markdown pipe table (best values in bold)."""
    header = ["Model"] + [c.header for c in table.columns]
    def text(cell) -> str:
        escaped = cell.text.replace("*", "\\*")  # a coverage flag, not emphasis
        return f"**{escaped}**" if cell.bold else escaped

    rows = [[row_label(row)] + [text(c) for c in row.cells] for row in table.rows]
    return _md_table(header, rows)


def render_markdown(report: Report, plot_links: Mapping[str, Sequence[tuple[str, str]]] | None = None) -> str:
    """The report as Markdown; ``plot_links`` maps a suite to (title, path) images to link."""
    out = ["# dpbench report", "",
           f"Generated {report.generated} from {len(report.stores)} run(s). {LEGEND}", ""]
    for section in report.sections:
        out += [f"## Suite `{section.suite}`", ""]
        common, _ = protocol_split(section)
        if common:
            out += ["Protocol: " + "; ".join(f"{k} = {v}" for k, v in common.items()), ""]
        header, rows = runs_rows(section)
        out += [_md_table(header, rows, align_right_from=len(header)), ""]
        missing = missing_lines(section)
        out += [f"- {line}" for line in missing] + ([""] if missing else [])
        for table in section.tables:
            out += [f"### {table.title}", "", markdown_table(table), ""]
            out += [f"_{note}_" for note in table.notes]
            if table.notes:
                out.append("")
        out += upperbound_markdown(section)  # Table 7 layout of probe:gt-resample runs, if any
        for title, path in (plot_links or {}).get(section.suite, []):
            out += [f"![{title}]({path})", ""]
    if report.runtime is not None:  # speed runs (dpbench.report.runtime)
        table = report.runtime.table
        out += ["## Speed", "", f"### {table.title}", "", markdown_table(table), ""]
        out += [f"_{note}_" for note in table.notes] + [""]
        for title, path in (plot_links or {}).get("speed", []):
            out += [f"![{title}]({path})", ""]
    if report.notes:
        out += ["## Notes", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(out).rstrip() + "\n"


# --- CSV ----------------------------------------------------------------------------------

CSV_COLUMNS = ("suite", "source", "run_id", "model", "dataset", "metric", "value")


def _csv_value(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def csv_records(report: Report) -> list[dict[str, str]]:
    """One record per (run or paper method, dataset, metric), values in stored units.

    ``source`` is run | reference | paper; the average δ1 rank is the metric
    ``avg_rank_delta1`` with an empty dataset.
    """
    records = []
    for section in report.sections:
        for agg in section.aggregates:
            source = REFERENCE if agg["reference"] else "run"
            base = {"suite": section.suite, "source": source, "run_id": agg["run_id"],
                    "model": agg["model"].get("name", "")}
            for dataset, scores in agg["results"].items():
                for metric, value in scores.items():
                    records.append({**base, "dataset": dataset, "metric": metric, "value": _csv_value(value),
                                    **_ci_fields(agg, dataset, metric)})
            if agg["run_id"] in section.ranks:
                records.append({**base, "dataset": "", "metric": "avg_rank_delta1",
                                "value": _csv_value(section.ranks[agg["run_id"]]),
                                **_ci_fields(agg, "", "avg_rank_delta1")})
        seen = set()
        for table in section.tables:
            for row in table.rows:
                if row.kind != PAPER:
                    continue
                for column, cell in zip(table.columns, row.cells, strict=True):
                    metric = "avg_rank_delta1" if column.metric == AVG_RANK else column.metric
                    key = (row.method, column.dataset, metric)
                    if cell.value is None or key in seen:
                        continue
                    seen.add(key)
                    records.append({"suite": section.suite, "source": PAPER, "run_id": "",
                                    "model": row.method, "dataset": column.dataset or "",
                                    "metric": metric, "value": _csv_value(cell.value)})
    return records


def paper_records(report: Report) -> list[dict]:
    """The paper's numbers the report's tables show (:func:`csv_records` with source paper), as
    ``{suite, model, dataset, metric, value}`` with float values, for the JSON report."""
    return [{"suite": r["suite"], "model": r["model"], "dataset": r["dataset"], "metric": r["metric"],
             "value": float(r["value"])} for r in csv_records(report) if r["source"] == PAPER]


def _ci_fields(agg: dict, dataset: str, metric: str) -> dict[str, str]:
    """With ``--ci``: the interval columns of a record (:func:`dpbench.report.ci.csv_fields`)."""
    if not agg.get("ci"):
        return {}
    from dpbench.report.ci import csv_fields

    return {key: _csv_value(value) for key, value in csv_fields(agg, dataset, metric).items()}


def render_csv(report: Report) -> str:
    """The report as a tidy CSV (see :func:`csv_records`; with ``--ci`` interval columns too)."""
    buffer = io.StringIO()
    from dpbench.report.ci import CSV_COLUMNS as CI_COLUMNS

    columns = CSV_COLUMNS + (CI_COLUMNS if report.intervals is not None else ())
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_records(report))
    if report.runtime is not None:
        from dpbench.report.runtime import runtime_csv_records

        writer.writerows(runtime_csv_records(report.runtime))
    return buffer.getvalue()


# --- LaTeX --------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "δ": r"$\delta$", "Δ": r"$\Delta$", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
    "−": r"$-$", "×": r"$\times$", "†": r"$^\dagger$", "‡": r"$^\ddagger$", "⊘": r"$\oslash$", "–": "--",
    "<": r"$<$", ">": r"$>$",
}


def latex_escape(text: str) -> str:
    """Escape text for LaTeX (special characters and the few symbols the tables use)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex_table(table: Table, suite: str) -> str:
    """One report table as a booktabs ``tabular`` inside a ``table`` float."""
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{latex_escape(table.title)} --- suite \texttt{{{latex_escape(suite)}}}}}",
             r"\begin{tabular}{l" + "r" * len(table.columns) + "}", r"\toprule",
             " & ".join(["Method"] + [latex_escape(c.header) for c in table.columns]) + r" \\",
             r"\midrule"]
    for row in table.rows:
        cells = [rf"\textbf{{{latex_escape(c.text)}}}" if c.bold else latex_escape(c.text) for c in row.cells]
        lines.append(" & ".join([latex_escape(row_label(row))] + cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [r"\par\footnotesize " + latex_escape(note) for note in table.notes]
    lines.append(r"\end{table}")
    return "\n".join(lines)


def render_latex(report: Report) -> str:
    """The report as LaTeX tables (needs ``\\usepackage{booktabs}``)."""
    out = [f"% dpbench report, generated {report.generated}; needs \\usepackage{{booktabs}}",
           "% " + LEGEND, *[f"% note: {note}" for note in report.notes], ""]
    for section in report.sections:
        common, varying = protocol_split(section)
        out.append(f"% suite {section.suite}; protocol: "
                   + "; ".join(f"{k} = {v}" for k, v in common.items())
                   + (f"; differing between runs: {', '.join(varying)}" if varying else ""))
        for table in section.tables:
            out += [latex_table(table, section.suite), ""]
    if report.runtime is not None:
        out += ["% speed runs", latex_table(report.runtime.table, "speed"), ""]
    return "\n".join(out).rstrip() + "\n"


# --- JSON ---------------------------------------------------------------------------------

def render_json(report: Report) -> str:
    """The ``dpbench-report/1`` JSON document (the input of ``dpbench check``)."""
    return json.dumps(report_json(report), indent=2, allow_nan=False) + "\n"

