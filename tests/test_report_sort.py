"""Report rows are ranked: by Avg. Rank in Table 1, by the first column's direction elsewhere;
`--sort name` keeps them alphabetical."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import standard_run

from dpbench.cli import cli
from dpbench.report import build_report
from dpbench.report.tables import sort_table


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(3)
    sets = ("middlebury", "sintel")
    # alpha: depth × 1.3 (δ1 collapses) but the better boundaries; beta: right scale, worse boundaries
    standard_run(tmp_path, "run-alpha", model="alpha", rng=rng, scale=1.3, f1=0.6, depth_sets=sets)
    standard_run(tmp_path, "run-beta", model="beta", rng=rng, scale=1.0, f1=0.3, depth_sets=sets)
    standard_run(tmp_path, "run-gt", model="probe:gt", rng=rng, scale=1.0, noise=0.0, f1=1.0, reference=True,
                 depth_sets=sets)
    return tmp_path


def _tables(runs_dir, sort=None):
    report = build_report(sorted(p for p in runs_dir.iterdir() if p.is_dir()))
    (section,) = report.sections
    tables = {table.key: table for table in section.tables}
    if sort is not None:
        for table in tables.values():
            sort_table(table, sort)
    return tables


def _labels(table):
    return [row.label.split(" ")[0] for row in table.rows]


def test_rows_are_ranked_by_each_tables_metric(runs):
    tables = _tables(runs)
    table1 = tables["table1"]
    assert _labels(table1) == ["beta", "alpha", "probe:gt"]  # Avg. Rank 1 before 2; references last
    assert [row.cells[-1].value for row in table1.rows] == [1.0, 2.0, 1.0]
    assert _labels(tables["table2"]) == ["alpha", "beta", "probe:gt"]  # middlebury F1 ↑: 0.6 > 0.3
    table4 = tables["table4:middlebury"]
    assert table4.columns[0].metric == "abs_rel"
    assert _labels(table4) == ["beta", "alpha", "probe:gt"]  # AbsRel ↓
    values = [row.cells[0].value for row in table4.rows[:2]]
    assert values == sorted(values)


def test_sort_name_is_alphabetical(runs):
    tables = _tables(runs, sort="name")
    assert all(_labels(table) == ["alpha", "beta", "probe:gt"] for table in tables.values())
    with pytest.raises(ValueError, match="sort order"):
        sort_table(tables["table1"], "size")


def test_report_command_sort_option(runs):
    runner = CliRunner()
    ranked = runner.invoke(cli, ["report", "--runs-dir", str(runs), "--format", "markdown"])
    named = runner.invoke(cli, ["report", "--runs-dir", str(runs), "--format", "markdown", "--sort", "name"])
    assert ranked.exit_code == 0 and named.exit_code == 0, ranked.output + named.output

    def first_table_models(text):
        block = text.split("Table 1 style")[1].split("\n\n")[1]  # the table after the title
        return [line.split("|")[1].strip().split(" ")[0] for line in block.splitlines()[2:]]

    assert first_table_models(ranked.output) == ["beta", "alpha", "probe:gt"]
    assert first_table_models(named.output) == ["alpha", "beta", "probe:gt"]


def test_every_row_kind_is_kept_in_its_group():
    from dpbench.report.tables import (
        AVG_RANK,
        DIFF,
        PAPER,
        REFERENCE,
        RUN,
        UNTRAINED,
        Cell,
        Column,
        Row,
        Table,
    )

    def row(label, kind, rank, run_id=None, excluded=False):
        return Row(label, kind, [Cell(rank, str(rank), excluded=excluded)], run_id=run_id)

    table = Table("t", "t", [Column("Avg. Rank ↓", AVG_RANK)], rows=[
        row("Δ b − paper", DIFF, None, "b"), row("untrained", UNTRAINED, 1.0, "u"), row("gt", REFERENCE, 1.0, "g"),
        row("c", RUN, 2.0, "c", excluded=True), row("b", RUN, 3.0, "b"), row("paper", PAPER, 1.0),
        row("Δ c − paper", DIFF, None, "c")])
    sort_table(table)
    # c's rank is left out of ranking (below full coverage): after b; Δ rows follow their runs' order
    assert [r.label for r in table.rows] == ["paper", "b", "c", "gt", "untrained", "Δ b − paper", "Δ c − paper"]
