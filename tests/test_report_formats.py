"""Report formats parse (markdown shape, CSV/JSON round trip, LaTeX tabulars, self-contained HTML),
references are marked and unranked, the best value is bold, and --paper adds the paper's rows."""

from __future__ import annotations

import base64
import csv
import io
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import dataset_entry, depth_pair, depth_row, manifest, standard_run, write_run

from dpbench import cli as cli_module
from dpbench.cli import cli
from dpbench.report import (
    AGGREGATIONS,
    FORMATS,
    TIE_RULES,
    build_report,
    render_report,
)
from dpbench.report.figures import report_plots
from dpbench.report.tables import DIFF, PAPER, REFERENCE


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """model-a (good), model-b (worse, scale 1.3), probe:gt (a reference with perfect depth)."""
    runs = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(7)
    standard_run(runs, "run-a", model="model-a", rng=rng, scale=1.0, f1=0.5, recall=0.4, focal_scale=1.1,
                 depth_sets=("middlebury", "sintel"), created="2026-01-01T00:00:00Z")
    standard_run(runs, "run-b", model="model-b", rng=rng, scale=1.3, f1=0.6, recall=0.3, focal_scale=1.4,
                 depth_sets=("middlebury", "sintel"), created="2026-01-01T00:01:00Z", kind="parquet")
    standard_run(runs, "run-p", model="probe:gt", rng=rng, scale=1.0, noise=0.0, reference=True, f1=1.0,
                 recall=1.0, focal_scale=1.0, depth_sets=("middlebury", "sintel"),
                 created="2026-01-01T00:02:00Z")
    return runs


@pytest.fixture(scope="module")
def report(three_runs):
    return build_report([three_runs / "run-a", three_runs / "run-b", three_runs / "run-p"])


def _markdown_tables(text: str) -> list[list[list[str]]]:
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip()[1:-1])])
        elif current:
            tables.append(current)
            current = []
    return tables


def test_cli_choices_are_the_library_lists():
    params = {p.name: p for p in cli_module.cli.commands["report"].params}
    assert tuple(params["fmt"].type.choices) == FORMATS
    assert tuple(params["aggregation"].type.choices) == AGGREGATIONS
    assert tuple(params["ties"].type.choices) == TIE_RULES


def test_markdown_tables_have_a_consistent_shape(report):
    text = render_report(report, "markdown")
    tables = _markdown_tables(text)
    # runs table, Table 1, Table 4 ×2 datasets, Table 2, Table 3
    assert len(tables) == 6
    for table in tables:
        width = len(table[0])
        assert all(len(row) == width for row in table)
        assert all(re.fullmatch(r"-{3}:?", cell) for cell in table[1])
    table1 = tables[1]
    assert table1[0] == ["Model", "middlebury", "sintel", "Avg. Rank ↓"]
    rows = {row[0]: row[1:] for row in table1[2:]}
    assert set(rows) == {"model-a", "model-b", "probe:gt †"}
    # model-a (scale 1.0) beats model-b (scale 1.3) on δ1: bold, rank 1; the probe is not ranked.
    assert rows["model-a"][0].startswith("**") and rows["model-a"][-1] == "**1.0**"
    assert rows["model-b"][-1] == "2.0"
    # the probe is ranked among references only (in parentheses) and never bolded beside models
    assert rows["probe:gt †"][-1] == "(1.0)" and "**" not in "".join(rows["probe:gt †"])
    assert "## Suite `sample`" in text and "Protocol:" in text and "focal_mode = estimated" in text


def test_boundary_and_focal_tables_bold_the_best_run(report):
    section = report.sections[0]
    table2 = next(t for t in section.tables if t.key == "table2")
    headers = [c.header for c in table2.columns]
    assert headers == ["middlebury F1", "sintel F1", "am2k R"]
    by_label = {row.label: row for row in table2.rows}
    assert by_label["model-b"].cells[0].bold and not by_label["model-a"].cells[0].bold  # F1 0.6 > 0.5
    assert by_label["model-a"].cells[2].bold  # recall 0.4 > 0.3
    assert by_label["probe:gt"].kind == REFERENCE and not any(c.bold for c in by_label["probe:gt"].cells)
    table3 = next(t for t in section.tables if t.key == "table3")
    assert [c.header for c in table3.columns] == ["exif_folder δ25", "exif_folder δ50"]
    focal = {row.label: [c.text for c in row.cells] for row in table3.rows}
    assert focal["model-a"] == ["100.0", "100.0"]  # error 0.1
    assert focal["model-b"] == ["0.0", "100.0"]  # error 0.4


def test_csv_round_trips_every_aggregate_value(report):
    text = render_report(report, "csv")
    records = list(csv.DictReader(io.StringIO(text)))
    assert tuple(records[0]) == ("suite", "source", "run_id", "model", "dataset", "metric", "value")
    values = {(r["run_id"], r["dataset"], r["metric"]): r["value"] for r in records}
    count = 0
    for agg in report.aggregates:
        for dataset, scores in agg["results"].items():
            for metric, value in scores.items():
                text_value = values[(agg["run_id"], dataset, metric)]
                assert (text_value == "") if value is None else float(text_value) == value
                count += 1
    assert count == sum(1 for r in records if r["metric"] != "avg_rank_delta1")
    sources = {r["run_id"]: r["source"] for r in records}
    assert sources["run-p"] == "reference" and sources["run-a"] == "run"
    assert values[("run-a", "", "avg_rank_delta1")] == "1.0"
    assert values[("run-p", "", "avg_rank_delta1")] == "1.0"  # among references (source "reference")


def test_json_round_trips_the_aggregates(report):
    document = json.loads(render_report(report, "json"))
    assert document["format"] == "dpbench-report/1" and document["tie_rule"] == "max"
    assert [run["run_id"] for run in document["runs"]] == ["run-a", "run-b", "run-p"]
    for run, agg in zip(document["runs"], report.aggregates, strict=True):
        assert run["results"] == json.loads(json.dumps(agg["results"]))
        assert run["protocol"] == agg["protocol"] and run["reference"] == agg["reference"]
    ranks = {run["run_id"]: (run["avg_rank_delta1"], run["rank_pool"]) for run in document["runs"]}
    assert ranks == {"run-a": (1.0, "models"), "run-b": (2.0, "models"), "run-p": (1.0, "references")}


def test_latex_has_one_balanced_tabular_per_table(report):
    text = render_report(report, "latex")
    count = sum(len(s.tables) for s in report.sections)
    assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") == count
    assert text.count(r"\begin{table}") == text.count(r"\end{table}") == count
    assert r"exif\_folder" in text and "exif_folder" not in text.replace(r"exif\_folder", "")
    assert r"\textbf{" in text and r"$^\dagger$" in text
    blocks = re.findall(r"\\begin\{tabular\}\{(lr*)\}(.*?)\\end\{tabular\}", text, re.S)
    assert len(blocks) == count
    for spec, body in blocks:
        rows = [line for line in body.splitlines() if line.endswith(r"\\")]
        assert rows and all(line.count("&") == len(spec) - 1 for line in rows)


def test_html_is_self_contained_and_embeds_the_plots(report):
    plots, notes = report_plots(report, qualitative=0)
    names = {p.name for p in plots}
    assert {"sample_bars_delta1", "sample_bars_boundary_f1", "sample_bars_boundary_recall",
            "sample_bars_focal_delta_25", "sample_focal_cdf", "sample_boundary_depth_thresholds",
            "sample_boundary_mask_thresholds"} <= names
    html = render_report(report, "html", plots=plots, notes=notes)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(plots)
    assert all(base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n") for data in images)
    assert not re.search(r'(src|href)="(https?:|/|\./)', html)  # nothing to fetch
    assert html.count("<table>") == 1 + sum(len(s.tables) for s in report.sections)
    assert "<strong>" in html and 'class="reference"' in html


def test_paper_rows_and_differences_on_a_paper_suite(tmp_path):
    rng = np.random.default_rng(3)
    rows = []
    for dataset in ("booster", "sunrgbd"):
        pred, gt = depth_pair(rng, scale=1.0, noise=0.05)
        rows.append(depth_row(dataset, "s0", pred, gt))
    datasets = [dataset_entry(d, ["metric_depth"], num_samples=1) for d in ("booster", "sunrgbd")]
    write_run(tmp_path, manifest("dp", model="depthpro", suite="zeroshot", datasets=datasets), rows)
    report = build_report([tmp_path / "dp"], paper=True)
    table1 = report.sections[0].tables[0]
    kinds = [row.kind for row in table1.rows]
    assert kinds.count(PAPER) == 8  # every Table 1 method with booster or sunrgbd (not ZeroDepth)
    diff = next(row for row in table1.rows if row.kind == DIFF)
    assert diff.label == "Δ depthpro − Depth Pro (paper)"
    ours = report.aggregates[0]["results"]["booster"]["delta1"]
    assert diff.cells[0].value == pytest.approx(ours - 0.466)
    # the paper's methods are ranked with the run: 9 rows ranked, ranks are averages of 1..9
    ranked = [row.cells[-1].value for row in table1.rows if row.kind != DIFF]
    assert all(r is not None and 1.0 <= r <= 9.0 for r in ranked)
    table4 = next(t for t in report.sections[0].tables if t.key == "table4:booster")
    paper_dp = next(row for row in table4.rows if row.label == "Depth Pro (paper)")
    assert [c.text for c in paper_dp.cells] == ["0.336", "0.118", "79.4", "96.5", "4.616"]
    markdown = render_report(report, "markdown")
    assert "Metric3D v2 (paper) *" in markdown and "not strictly zero-shot" in markdown
    records = list(csv.DictReader(io.StringIO(render_report(report, "csv"))))
    assert {"source": "paper", "model": "Depth Pro", "dataset": "booster", "metric": "delta1"}.items() <= next(
        r for r in records if r["source"] == "paper" and r["model"] == "Depth Pro" and r["metric"] == "delta1"
        and r["dataset"] == "booster").items()


def test_paper_numbers_are_not_mixed_into_the_sample_suite(three_runs):
    with_paper = build_report([three_runs / "run-a"], paper=True)
    assert all(row.kind != PAPER for s in with_paper.sections for t in s.tables for row in t.rows)


def test_cli_report_writes_markdown_with_plot_links(three_runs, tmp_path):
    out = tmp_path / "out" / "report.md"
    plots = tmp_path / "plots"
    result = CliRunner().invoke(cli, ["report", "--runs-dir", str(three_runs), "--out", str(out),
                                      "--plots", str(plots), "--qualitative", "0"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((out.parent / link).resolve().is_file() for link in links)
    assert len(list(plots.glob("*.png"))) == len(links)


def test_cli_report_json_to_stdout(three_runs):
    result = CliRunner().invoke(cli, ["report", "--runs-dir", str(three_runs), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "dpbench-report/1"


def test_two_suites_get_separate_sections(tmp_path):
    rng = np.random.default_rng(1)
    standard_run(tmp_path, "s1", model="m", rng=rng, suite="sample")
    standard_run(tmp_path, "s2", model="m", rng=rng, suite="other")
    report = build_report([tmp_path / "s1", tmp_path / "s2"])
    assert [s.suite for s in report.sections] == ["sample", "other"]
    assert [len(s.aggregates) for s in report.sections] == [1, 1]


def test_paper_flag_on_a_non_paper_suite_says_why_nothing_is_added(three_runs):
    report = build_report([three_runs / "run-a"], paper=True)
    assert len(report.notes) == 1 and "'sample'" in report.notes[0]
    assert report.notes[0] in render_report(report, "markdown")
    assert report.notes[0] in render_report(report, "latex")


def test_references_alone_are_ranked_and_bolded_among_themselves(three_runs, tmp_path):
    rng = np.random.default_rng(9)
    standard_run(tmp_path, "p2", model="probe:gt-scale", rng=rng, scale=1.5, noise=0.0, reference=True,
                 f1=1.0 - 1e-9)
    report = build_report([three_runs / "run-p", tmp_path / "p2"])
    table1 = report.sections[0].tables[0]
    texts = {row.label: [c.text for c in row.cells] for row in table1.rows}
    assert texts["probe:gt"][-1] == "(1.0)" and texts["probe:gt-scale"][-1] == "(2.0)"
    bold = {row.label: [c.bold for c in row.cells] for row in table1.rows}
    assert bold["probe:gt"] == [True, True, True] and not any(bold["probe:gt-scale"])
    # F1 1.0 and 1 − 1e-9 print the same (1.000): both are bold, as in a printed table
    table2 = next(t for t in report.sections[0].tables if t.key == "table2")
    assert table2.columns[0].header == "middlebury F1"
    assert [row.cells[0].bold for row in table2.rows] == [True, True]


def test_missing_datasets_are_listed_under_the_runs_table(tmp_path):
    rng = np.random.default_rng(4)
    pred, gt = depth_pair(rng)
    datasets = [dataset_entry("middlebury", ["metric_depth"], num_samples=1),
                dataset_entry("sintel", ["metric_depth"], status="missing", reason="not found under /data")]
    write_run(tmp_path, manifest("m", datasets=datasets), [depth_row("middlebury", "s0", pred, gt)])
    text = render_report(build_report([tmp_path / "m"]), "markdown")
    assert "- model-a: sintel missing (not found under /data)" in text
    assert "| Model | middlebury | Avg. Rank ↓ |" in text  # no empty sintel column
