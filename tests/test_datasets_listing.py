"""`dpbench datasets` rows and CLI output."""

from _fake_trees import make_booster_tree, make_sintel_tree
from click.testing import CliRunner

from dpbench.cli import cli
from dpbench.datasets import Dataset, dataset_names, register_dataset
from dpbench.datasets.listing import dataset_rows

DEPTH_SETS = ["booster", "diode", "eth3d", "hypersim", "ibims", "kitti", "middlebury", "nuscenes", "nyuv2",
              "sintel", "spring", "sunrgbd"]


@register_dataset("zz_listing_broken")
class _Broken(Dataset):
    layout = "<root>/broken"

    @classmethod
    def is_present(cls, root):
        return True

    def _index(self):
        raise RuntimeError("index exploded")


def test_rows_without_data_root():
    rows = {row["name"]: row for row in dataset_rows(None)}
    assert set(DEPTH_SETS) <= set(rows) and set(rows) == set(dataset_names())
    for name in DEPTH_SETS:
        assert rows[name]["found"] is None and rows[name]["samples"] is None and rows[name]["layout"]
        assert rows[name]["task"] in ("metric_depth", "boundary_depth")
    assert rows["booster"]["expected"] == 228 and rows["sintel"]["expected"] == 1064


def test_rows_with_data_root(tmp_path, rng):
    make_booster_tree(tmp_path / "Booster", rng)
    make_sintel_tree(tmp_path / "sintel", rng)
    (tmp_path / "zz_listing_broken").mkdir()
    rows = {row["name"]: row for row in dataset_rows(tmp_path)}
    assert rows["booster"]["found"] is True and rows["booster"]["samples"] == 3
    assert rows["booster"]["root"] == str(tmp_path / "Booster") and "expects 228" in rows["booster"]["notes"]
    assert rows["sintel"]["samples"] == 3
    assert rows["eth3d"]["found"] is False and rows["eth3d"]["samples"] is None
    broken = rows["zz_listing_broken"]
    assert broken["found"] is True and broken["samples"] is None and "index exploded" in broken["notes"]


def test_cli_datasets(tmp_path, rng):
    make_booster_tree(tmp_path / "booster", rng, scenes={"A": 2})
    result = CliRunner().invoke(cli, ["datasets", "--data-root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"data root: {tmp_path}"
    booster = next(line for line in lines if line.startswith("booster "))
    assert booster.split()[:4] == ["booster", "metric_depth", "yes", "2"]
    eth3d = next(line for line in lines if line.startswith("eth3d "))
    assert eth3d.split()[:4] == ["eth3d", "metric_depth", "no", "-"]
    result = CliRunner().invoke(cli, ["datasets"])
    assert result.exit_code == 0 and "(none: pass --data-root" in result.output
