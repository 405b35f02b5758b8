"""``dpbench models``: the rows of the listing and the CLI table."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dpbench.cli import cli
from dpbench.models import register_model
from dpbench.models.listing import COLUMNS, LIST_COLUMNS, card_rows, model_rows


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
register_model("zzlist-half", output_kind="metric_depth", extra="zzhalf", requires=("json",),
               extra_modules=("dpbench_no_such_module_zz",))(_never)


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
    # the load-time requirement imports, a module of the extra does not: not "installed"
    assert rows["zzlist-half"]["extra"] == 'zzhalf (missing: pip install "dpbench[zzhalf]")'
    assert rows["zzlist-half"]["status"] == "needs extra zzhalf"
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
    assert lines[0].split() == list(LIST_COLUMNS)
    body = "\n".join(lines[2:])
    assert "probe:gt " in body and "hf:<...>" in body and "predictions:<...>" in body
    assert "zzlist-found" in body and "/somewhere/b.pt" in body


# -- route and status (cards of any family, paper rows without a card) -----------------------

register_model("zzroute", output_kind="metric_depth", family=True, default_arg="big",
               weights=lambda: [("/nowhere/zz.pt", False)])(_never)


def _cards_dir(tmp_path, monkeypatch, cards: dict[str, str]):
    """A baselines folder with these cards and a copy of the shipped paper tables."""
    import shutil

    from dpbench.resources import resource_dir

    base = tmp_path / "baselines"
    shutil.copytree(resource_dir("baselines") / "paper", base / "paper")
    (base / "models").mkdir(parents=True)
    for name, text in cards.items():
        (base / "models" / f"{name}.toml").write_text(text)
    monkeypatch.setenv("DPBENCH_BASELINES_DIR", str(base))


def test_status_rules():
    from dpbench.models import get_model_info
    from dpbench.models.listing import status_of

    extra, _ = get_model_info("zzlist-extra")
    needs, _ = get_model_info("zzlist-needs")
    found, _ = get_model_info("zzlist-found")
    assert status_of(extra, True) == "needs extra zzextra"
    assert status_of(needs, None) == "needs dpbench_no_such_module_zz"
    assert status_of(found, False) == "weights missing" and status_of(found, True) == "runnable"
    assert status_of(found, None) == "runnable"
    assert status_of(extra, True, "predictions only") == "predictions only"  # the card's word wins
    rows = rows_by_name()
    assert rows["zzlist-missing"]["status"] == "weights missing"
    assert rows["zzlist-found"]["status"] == "runnable"
    assert rows["probe:gt"]["status"] == "runnable" and rows["probe:gt"]["route"] == "-"
    assert rows["hf:<...>"]["route"] == "transformers" and rows["predictions:<...>"]["route"] == "predictions"


def test_routes_and_statuses_come_from_temporary_cards(tmp_path, monkeypatch):
    _cards_dir(tmp_path, monkeypatch, {
        "zz_family": 'name = "zz_family"\nroute = "torch.hub"\noutput_kind = "metric_depth"\n'
                     '[[variants]]\nmodel = "zzroute:small"\nnotes = "small one"\n'
                     '[[variants]]\nmodel = "zzroute:big"\npaper_method = "metric3d"\n'
                     '[[variants]]\nmodel = "zzroute:old"\nroute = "native"\nstatus = "not runnable yet"\n'
                     'weights = "somewhere else"\n',
        "zz_focal": 'name = "zz_focal"\nroute = "predictions"\noutput_kind = "focal_only"\n'
                    'paper_method = "spec"\nweights = "a Google Drive zip"\nnotes = "write focal.json"\n',
        "zz_nothing": 'name = "zz_nothing"\ntitle = "a card without a dpbench model"\n',
    })
    rows = rows_by_name()
    assert all(tuple(row) == COLUMNS for row in rows.values())
    assert rows["zzroute[:<variant>]"]["route"] == "torch.hub"  # the default variant's card
    small = rows["zzroute:small"]
    assert (small["route"], small["status"], small["present"]) == ("torch.hub", "weights missing", False)
    assert small["weights"] == "/nowhere/zz.pt" and small["notes"] == "zz_family: small one"
    old = rows["zzroute:old"]
    assert (old["route"], old["status"], old["weights"], old["present"]) == (
        "native", "not runnable yet", "somewhere else", None)
    focal = rows["zz_focal"]
    assert (focal["route"], focal["status"], focal["output_kind"]) == ("predictions", "predictions only",
                                                                      "focal_only")
    assert focal["weights"] == "a Google Drive zip" and focal["notes"] == "write focal.json"
    assert rows["zz_nothing"]["status"] == "no dpbench model"
    # paper methods no card names get a row each; metric3d and spec are named by the cards above
    assert "metric3d" not in rows and "spec" not in rows
    unidepth = rows["unidepth"]
    assert unidepth["status"] == "no model card"
    assert unidepth["notes"] == "UniDepth: paper Table 1, Table 2, Table 3 baseline"
    assert rows["im2pcl"]["notes"] == "im2pcl: paper Table 3 baseline"


def test_shipped_cards_cover_every_paper_baseline_with_route_and_status():
    import csv

    from dpbench.resources import resource_dir

    rows = model_rows()
    paper = resource_dir("baselines") / "paper"
    methods = set()
    for name in ("table1_metric_delta1.csv", "table2_boundary.csv", "table3_focal.csv"):
        with (paper / name).open(newline="") as handle:
            methods |= {row["method_id"] for row in csv.DictReader(handle)}
    from dpbench.report.identity import card_paper_method

    listed = {card_paper_method(row["name"].split("[")[0]) or row["name"] for row in rows}
    by_name = {row["name"]: row for row in rows}
    # depthpro, DPT and Marigold are listed under their model names (their cards name no variant
    # with the paper's row, or a registry entry)
    assert methods - {"depth_pro", "dpt", "marigold"} <= listed
    assert {"depthpro", "hf:Intel/dpt-hybrid-midas", "marigold[:<repo>]"} <= set(by_name)
    for focal_only in ("spec", "im2pcl"):
        assert (by_name[focal_only]["route"], by_name[focal_only]["status"]) == ("predictions", "predictions only")
    assert by_name["depth-anything-metric:v2"]["route"] == "transformers"
    assert by_name["depth-anything-metric:v1"]["route"] == "clone"
    assert by_name["hf:Intel/zoedepth-nyu-kitti"]["route"] == "transformers"


def test_cli_models_json_has_route_and_status():
    result = CliRunner().invoke(cli, ["models", "--format", "json"])
    assert result.exit_code == 0, result.output
    models = {row["name"]: row for row in json.loads(result.output)["models"]}
    assert models["zzlist-missing"]["status"] == "weights missing"
    assert models["spec"]["route"] == "predictions"


def test_every_paper_table_model_has_a_route_and_the_native_ones_say_so():
    from dpbench.models.listing import model_rows

    rows = {row["name"]: row for row in model_rows()}
    assert rows["depthpro"]["route"] == "native"
    assert rows["marigold[:<repo>]"]["route"] == "diffusers"
    assert rows["hf:Intel/dpt-hybrid-midas"]["route"] == "transformers"
    assert not [row for row in rows.values() if row["status"] == "no model card"]  # Tables 1-3 all carded


# Import name of each distribution an extra of pyproject.toml lists, where the two differ.
_IMPORT_NAMES = {"scikit-image": "skimage", "pyyaml": "yaml", "torch-scatter": "torch_scatter",
                 "mmcv-lite": "mmcv", "huggingface_hub": "huggingface_hub"}


def test_extra_modules_belong_to_their_extra():
    """Each baseline's listed modules are installed by the extra it names in pyproject.toml."""
    import re
    from pathlib import Path

    from dpbench.models import model_infos
    from dpbench.resources import load_toml

    project = load_toml(Path(__file__).resolve().parents[1] / "pyproject.toml")
    extras = project["project"]["optional-dependencies"]
    checked = 0
    for info in model_infos():
        if not info.extra_modules or info.name.startswith("zz"):
            continue
        assert info.extra in extras, info.name
        dists = [re.split(r"[<>=;\[ ]", spec, maxsplit=1)[0] for spec in extras[info.extra]]
        modules = {_IMPORT_NAMES.get(d, d.replace("-", "_")) for d in dists}
        assert set(info.extra_modules) <= modules, (info.name, set(info.extra_modules) - modules)
        checked += 1
    assert checked >= 3  # zerodepth, patchfusion, unidepth
