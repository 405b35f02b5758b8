"""The protocol files of the depth datasets: required keys, Table 18 values, choices vs. adapter options."""

import inspect

import pytest

from dpbench.datasets import get_dataset_class, load_spec

DEPTH_SETS = ["booster", "diode", "eth3d", "hypersim", "ibims", "kitti", "middlebury", "nuscenes", "nyuv2",
              "sintel", "spring", "sunrgbd"]
# docs/paper.md §2.5, Table 18: (min depth, max depth, samples)
TABLE_18 = {"booster": (0.001, 10, 228), "eth3d": (0.1, 200, 454), "ibims": (0.1, 10, 100),
            "middlebury": (0.001, 10, 15), "nuscenes": (0.001, 80, None), "sintel": (0.01, 80, 1064),
            "sunrgbd": (0.001, 10, 5050)}


@pytest.mark.parametrize("name", DEPTH_SETS)
def test_protocol_file(name):
    protocol = load_spec(name)
    cls = get_dataset_class(name)
    for key in ("name", "task", "version", "default_split", "min_depth", "max_depth", "expected_samples",
                "folders", "layout", "choices"):
        assert key in protocol, f"{name}.toml lacks {key}"
    assert protocol["name"] == name and protocol["task"] == cls.task
    assert protocol["default_split"] in cls.splits
    assert 0 < protocol["min_depth"] < protocol["max_depth"]
    assert protocol["choices"]["split"]["default"] == protocol["default_split"]
    for key, choice in protocol["choices"].items():
        assert "default" in choice and choice.get("reason"), f"{name}: [choices.{key}] needs a default and a reason"
        default = choice["default"]
        if "options" in choice:
            assert all(v in choice["options"] for v in (default if isinstance(default, list) else [default]))
    options = [p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind == p.KEYWORD_ONLY]
    for option in options:
        if option not in ("split_file", "tables"):  # paths / folder overrides, no protocol default
            assert option in protocol["choices"], f"{name}: option {option!r} has no [choices.{option}]"


@pytest.mark.parametrize("name", sorted(TABLE_18))
def test_table_18_values(name):
    protocol = load_spec(name)
    low, high, count = TABLE_18[name]
    assert (protocol["min_depth"], protocol["max_depth"]) == (low, high)
    if count is not None:
        assert protocol["expected_samples"] == count
