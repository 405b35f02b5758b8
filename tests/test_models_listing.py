"""``dpbench models``: the rows of the listing and the CLI table."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dpbench.cli import cli
from dpbench.models import register_model
from dpbench.models.listing import COLUMNS, card_rows, model_rows


def _never(**kwargs):
    raise AssertionError("the listing must not create models")


register_model("zzlist-found", output_kind="metric_depth", description="found",
               weights=lambda: [("/nowhere/a.pt", False), ("/somewhere/b.pt", True)])(_never)
register_model("zzlist-missing", output_kind="relative_depth",
               weights=lambda: [("/nowhere/a.pt", False), ("/nowhere/b.pt", False)])(_never)
register_model("zzlist-broken", output_kind="metric_depth",
               weights=lambda: (_ for _ in ()).throw(OSError("disk on fire")))(_never)
register_model("zzlist-extra", output_kind="metric_depth", extra="zzextra",
               requires=("dpbench_no_such_module_zz",))(_never)
register_model("zzlist-needs", output_kind="metric_depth", requires=("dpbench_no_such_module_zz",))(_never)
register_model("zzlist-json", output_kind="metric_depth", extra="zzjson", requires=("json",))(_never)


def rows_by_name():
    return {row["name"]: row for row in model_rows()}


def test_every_row_has_the_columns_and_every_registered_model_is_listed():
    rows = model_rows()
    assert all(tuple(row) == COLUMNS for row in rows)
    names = {row["name"] for row in rows}
    for expected in ("probe:gt", "probe:gt-blur", "probe:gt-scale", "probe:constant",
                     "predictions:<...>", "hf:<...>", "marigold[:<repo>]", "zzlist-found"):
        assert expected in names


def test_weights_and_presence():
    rows = rows_by_name()
    assert rows["zzlist-found"]["weights"] == "/somewhere/b.pt" and rows["zzlist-found"]["present"] is True
    assert rows["zzlist-missing"]["weights"] == "/nowhere/a.pt | /nowhere/b.pt"
    assert rows["zzlist-missing"]["present"] is False
    assert "look-up failed: disk on fire" in rows["zzlist-broken"]["weights"]
    assert rows["zzlist-broken"]["present"] is None
    probe = rows["probe:gt"]
    assert probe["weights"] == "none (reads the ground truth)" and probe["present"] is None
    assert rows["hf:<...>"]["present"] is None and rows["hf:<...>"]["output_kind"] == "from config"
    assert rows["predictions:<...>"]["output_kind"] == "from meta.json"


def test_extra_status():
    rows = rows_by_name()
    assert rows["zzlist-extra"]["extra"] == 'zzextra (missing: pip install "dpbench[zzextra]")'
    assert rows["zzlist-needs"]["extra"] == "missing: dpbench_no_such_module_zz"
    assert rows["zzlist-json"]["extra"] == "zzjson (installed)"
    assert rows["probe:gt"]["extra"] == "-"


def test_card_variants_become_rows(tmp_path, monkeypatch):
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"model_type": "dpt"}))
    cards = tmp_path / "baselines" / "models"
    cards.mkdir(parents=True)
    (cards / "mine.toml").write_text(
        'name = "mine"\noutput_kind = "relative_disparity"\n'
        f'[[variants]]\nmodel = "hf:{model_dir}"\nnotes = "local copy"\n'
        '[[variants]]\nmodel = "hf:dpbench-tests/never-downloaded"\noutput_kind = "metric_depth"\n'
        '[[variants]]\nmodel = "nosuchfamily:x"\n'
        '[[variants]]\nmodel = "probe:gt"\n'
    )
    (cards / "broken.toml").write_text("this is = = not toml")
    monkeypatch.setenv("DPBENCH_BASELINES_DIR", str(tmp_path / "baselines"))
    rows = {row["name"]: row for row in card_rows()}
    assert set(rows) == {f"hf:{model_dir}", "hf:dpbench-tests/never-downloaded"}
    local = rows[f"hf:{model_dir}"]
    assert local["present"] is True and local["output_kind"] == "relative_disparity"
    assert local["notes"] == "mine: local copy" and local["extra"] == "hf (installed)"
    remote = rows["hf:dpbench-tests/never-downloaded"]
    assert remote["present"] is False and remote["output_kind"] == "metric_depth"


def test_shipped_cards_list_the_paper_baselines():
    names = {row["name"] for row in card_rows()}
    assert "hf:Intel/zoedepth-nyu-kitti" in names
    assert "hf:depth-anything/Depth-Anything-V2-Metric-Indoor-Large-hf" in names


def test_cli_models_prints_the_table():
    result = CliRunner().invoke(cli, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == list(COLUMNS)
    body = "\n".join(lines[2:])
    assert "probe:gt " in body and "hf:<...>" in body and "predictions:<...>" in body
    assert "zzlist-found" in body and "/somewhere/b.pt" in body
