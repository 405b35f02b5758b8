"""Listings fit the terminal: columns are wrapped or cut to the width, the failure field is never cut."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dpbench._table import format_table
from dpbench.cli import cli

WHY = "found but does not open: calib_00.xml: missing node 'proj_matL' (expected a 3x4 matrix)"
LAYOUT = "<root>/train/balanced/<Scene>/{camera_00/im<N>.png, disp_00.npy, mask_00.png, calib_00-02.xml}"
ROWS = [{"name": "booster", "found": True, "layout": LAYOUT, "notes": WHY},
        {"name": "eth3d", "found": False, "layout": "<root>/<scene>/images", "notes": ""}]
COLUMNS = ["name", "found", "layout", "notes"]


def _column_text(table: str, column: str, first_row_line: int, n_lines: int) -> str:
    """The text of ``column`` over some body lines (the column starts where its header does)."""
    lines = table.splitlines()
    start = lines[0].index(column)
    return " ".join(line[start:].strip() for line in lines[first_row_line:first_row_line + n_lines])


def test_full_width_without_a_width():
    table = format_table(ROWS, COLUMNS)
    assert LAYOUT in table and WHY in table and len(table.splitlines()) == 4


def test_fitted_table_cuts_layout_and_wraps_the_reason():
    table = format_table(ROWS, COLUMNS, width=72, wrap=("notes",))
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= 72
    header = lines[0]
    assert header.split() == COLUMNS
    layout_width = header.index("notes") - header.index("layout") - 2
    assert lines[2].split()[2] == LAYOUT[: layout_width - 1] + "…"  # cut, not wrapped
    assert LAYOUT not in table
    booster_lines = len(lines) - 3  # header, rule, then booster's lines and eth3d's one line
    assert booster_lines > 1
    assert _column_text(table, "notes", 2, booster_lines) == WHY  # every word of the reason is there
    assert lines[-1].split() == ["eth3d", "no", "<root>/<scene>/images"]


def test_column_widths_under_a_fixed_terminal_width():
    table = format_table(ROWS, COLUMNS, width=60, wrap=("notes",))
    rule = table.splitlines()[1].split("  ")
    assert [len(part) for part in rule] == [7, 5, 21, 21]  # name and found whole, the long ones equal
    assert max(len(line) for line in table.splitlines()) == 60


def test_models_and_datasets_fit_columns(tmp_path):
    runner = CliRunner()
    for command in (["models"], ["datasets", "--data-root", str(tmp_path)]):
        fitted = runner.invoke(cli, command, env={"COLUMNS": "90"})
        assert fitted.exit_code == 0, fitted.output
        assert max(len(line) for line in fitted.output.splitlines()) <= 90
        wide = runner.invoke(cli, [*command, "--wide"], env={"COLUMNS": "90"})
        assert wide.exit_code == 0 and max(len(line) for line in wide.output.splitlines()) > 90


def test_json_listings_are_complete(tmp_path):
    runner = CliRunner()
    datasets = json.loads(runner.invoke(cli, ["datasets", "--data-root", str(tmp_path), "--format", "json"]).output)
    assert datasets["data_root"] == str(tmp_path)
    booster = next(row for row in datasets["datasets"] if row["name"] == "booster")
    assert booster["layout"].endswith("calib_00-02.xml}") and booster["found"] is False
    models = json.loads(runner.invoke(cli, ["models", "--format", "json"]).output)["models"]
    gt = next(row for row in models if row["name"] == "probe:gt")
    assert gt["weights"] == "none (reads the ground truth)" and gt["output_kind"] == "metric_depth"
