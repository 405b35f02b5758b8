"""Third-party models and datasets through the entry-point groups ``dpbench.models`` /
``dpbench.datasets``: a tiny distribution written on ``sys.path`` (real discovery by
importlib.metadata), and a monkeypatched entry-point list for the error paths."""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import textwrap

import numpy as np
import pytest

import dpbench._plugins as plugins
import dpbench.datasets as datasets_registry
import dpbench.models as models_registry
from dpbench.datasets import dataset_names, open_dataset
from dpbench.models import get_model_info, load_model, model_infos
from dpbench.types import Sample

PLUGIN_MODULE = textwrap.dedent('''
    """A third-party dpbench plug-in, as a user would ship it."""
    import numpy as np

    from dpbench.datasets import Dataset, register_dataset
    from dpbench.models import DepthModel, register_model
    from dpbench.types import Prediction, Sample


    class TwoMetres(DepthModel):
        output_kind = "metric_depth"

        def predict(self, sample_or_image, focal_px=None):
            image = sample_or_image.image if isinstance(sample_or_image, Sample) else sample_or_image
            return Prediction(np.full(image.shape[:2], 2.0, np.float32))


    def make_two_metres(arg=None, checkpoint=None, device="auto", precision="fp32", **options):
        return TwoMetres()

    make_two_metres.output_kind = "metric_depth"


    class Flat(Dataset):
        task = "metric_depth"
        layout = "<root>/flat.txt"

        def _index(self):
            return ["a", "b"]

        def _item_id(self, item):
            return item

        def _load(self, item):
            return Sample(item, np.zeros((4, 5, 3), np.uint8), depth=np.ones((4, 5), np.float32))


    # a second model registered by importing a module (the "module" form of an entry point)
    @register_model("zzplug-by-import", output_kind="relative_depth")
    def _by_import(arg=None, checkpoint=None, device="auto", precision="fp32", **options):
        return TwoMetres()
''')

ENTRY_POINTS = textwrap.dedent('''
    [dpbench.models]
    zzplug-two-metres = zz_dpbench_plugin:make_two_metres
    zzplug-module = zz_dpbench_plugin

    [dpbench.datasets]
    zzplug_flat = zz_dpbench_plugin:Flat
''')


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch):
    """Install the plug-in as a distribution on sys.path and make both registries re-scan."""
    (tmp_path / "zz_dpbench_plugin.py").write_text(PLUGIN_MODULE)
    info = tmp_path / "zz_dpbench_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zz-dpbench-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "zz_dpbench_plugin", raising=False)
    monkeypatch.setattr(models_registry, "_loaded", False)
    monkeypatch.setattr(datasets_registry, "_loaded", False)
    return tmp_path


def test_distribution_entry_points_register_models_and_datasets(plugin_on_path):
    names = {info.name for info in model_infos()}
    assert {"zzplug-two-metres", "zzplug-by-import"} <= names
    info, _ = get_model_info("zzplug-two-metres")
    assert "plug-in zz_dpbench_plugin:make_two_metres" in info.description
    model = load_model("zzplug-two-metres")
    pred = model.predict(Sample("x", np.zeros((3, 4, 3), np.uint8)))
    assert pred.depth.shape == (3, 4) and (pred.depth == 2.0).all()
    assert get_model_info("zzplug-by-import")[0].output_kind == "relative_depth"

    assert "zzplug_flat" in dataset_names()
    dataset = open_dataset("zzplug_flat", plugin_on_path)
    assert dataset.ids == ["a", "b"] and dataset.name == "zzplug_flat"


def test_broken_and_wrong_plugins_do_not_break_the_registry(monkeypatch, caplog):
    good = importlib.metadata.entry_points

    def fake_entry_points(group=None, **kwargs):
        if group == "dpbench.models":
            return [
                importlib.metadata.EntryPoint("zzbroken", "zz_no_such_module:factory", group),
            ]
        if group == "dpbench.datasets":
            return [
                importlib.metadata.EntryPoint("zzbroken_ds", "zz_no_such_module:Thing", group),
                importlib.metadata.EntryPoint("zznot_a_dataset", "json:dumps", group),
            ]
        return good(group=group, **kwargs)

    monkeypatch.setattr(plugins, "entry_points", fake_entry_points)
    monkeypatch.setattr(models_registry, "_loaded", False)
    monkeypatch.setattr(datasets_registry, "_loaded", False)
    with caplog.at_level(logging.WARNING):
        names = {info.name for info in model_infos()}
        dataset_list = dataset_names()
    assert "probe:gt" in names and "zzbroken" not in names
    assert "could not load model plug-in 'zzbroken'" in caplog.text
    assert "could not load dataset plug-in 'zzbroken_ds'" in caplog.text
    assert "zznot_a_dataset" not in dataset_list  # not a Dataset subclass: ignored
