"""dpbench.evaluate: one's own function or nn.Module scored on the sample suite like a CLI run."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import dpbench
from dpbench.errors import DpbenchError, ModelError
from dpbench.models.callable_model import CallableModel
from dpbench.types import Prediction

DEPTH_DATASETS = ["middlebury", "sintel"]


def _key(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample suite (small), a probe:gt run over it, and the probe's prediction of every
    image keyed by the image's bytes (what a GT-lookup function returns)."""
    from dpbench.datasets import open_dataset
    from dpbench.models import load_model
    from dpbench.runner import RunConfig, run
    from dpbench.sample import generate_sample_suite
    from dpbench.suites import get_suite

    base = tmp_path_factory.mktemp("api")
    root = generate_sample_suite(base / "sample", scale=0.5)
    config = RunConfig(model="probe:gt", suite="sample", sample_root=root, out=base / "runs", progress=False,
                       device="cpu")
    gt_run = run(config, say=lambda message: None)
    probe = load_model("probe:gt")
    lookup = {}
    for entry in get_suite("sample", sample_root=root).entries:
        dataset = open_dataset(entry.dataset, entry.path, split=entry.split)
        for index in range(len(dataset)):
            item = dataset[index]
            lookup[_key(item.image)] = probe.predict(item)
    return {"root": root, "base": base, "gt_run": gt_run, "lookup": lookup}


def _gt_flat(sample, datasets=None):
    result = dpbench.EvaluationResult(sample["gt_run"])
    flat = result.flat()
    if datasets is None:
        return flat
    return {k: v for k, v in flat.items() if k.split("/")[1] in datasets}


def test_lookup_function_scores_equal_probe_gt(sample, tmp_path):
    lookup = sample["lookup"]

    def gt_model(image):
        found = lookup[_key(image)]
        return Prediction(depth=found.depth, focal_px=found.focal_px)

    result = dpbench.evaluate(gt_model, suite="sample", data_root=sample["root"], out=tmp_path, progress=False,
                              say=lambda message: None)
    assert result.status == "complete"
    assert result.run_dir.parent == tmp_path and (result.run_dir / "manifest.json").is_file()
    expected = _gt_flat(sample)
    assert result.flat() == pytest.approx(expected, abs=1e-9)
    assert set(result.flat()) == set(expected)
    assert result.flat()["sample/sintel/delta1"] == 1.0
    assert "sample/exif_folder/focal_delta_25" in result.flat()
    assert result.store.manifest["model"]["name"] == "gt_model"
    table = result.table()
    assert table.splitlines()[0].startswith(f"run {result.run_id}  model gt_model")
    assert table.splitlines()[1:] == dpbench.EvaluationResult(sample["gt_run"]).table().splitlines()[1:]


def test_numpy_function_with_focal_and_batch(sample, tmp_path):
    lookup, calls = sample["lookup"], []

    def batched(images, focal_px):
        calls.append((len(images), list(focal_px)))
        return [lookup[_key(image)].depth for image in images]

    result = dpbench.evaluate(batched, suite="sample", data_root=sample["base"], out=tmp_path, batch=True,
                              batch_size=3, datasets=DEPTH_DATASETS, focal_mode="gt", progress=False,
                              say=lambda message: None, name="lookup-batched")
    assert result.status == "complete"
    assert result.flat() == pytest.approx(_gt_flat(sample, DEPTH_DATASETS), abs=1e-9)
    assert max(n for n, _ in calls) == 3
    assert all(f is not None and f > 0 for _, focals in calls for f in focals)  # focal_mode=gt hands them over
    assert result.store.manifest["protocol"]["focal_mode"] == "gt"
    assert result.run_id.endswith("lookup-batched-sample")


def test_torch_module(sample, tmp_path):
    torch = pytest.importorskip("torch")
    lookup = sample["lookup"]
    seen = []

    class Net(torch.nn.Module):
        """Returns the GT of the image it is given (looked up from the [0,1] tensor), B×1×H×W."""

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            seen.append((tuple(x.shape), x.dtype, float(x.min()), float(x.max()), self.training))
            images = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
            depth = np.stack([lookup[_key(image)].depth for image in images])
            return torch.from_numpy(depth)[:, None] * self.scale

    net = Net().train()
    result = dpbench.evaluate(net, suite="sample", data_root=sample["root"], out=tmp_path, device="cpu",
                              datasets=DEPTH_DATASETS, batch_size=2, progress=False, say=lambda message: None)
    assert result.status == "complete"
    assert result.flat() == pytest.approx(_gt_flat(sample, DEPTH_DATASETS), abs=1e-6)
    assert net.training  # the module's mode is restored
    assert all(shape[1] == 3 and dtype == torch.float32 and 0 <= lo <= hi <= 1 and not training
               for shape, dtype, lo, hi, training in seen)
    assert max(shape[0] for shape, *_ in seen) == 2
    assert result.store.manifest["model"]["name"] == "Net"


def test_output_shapes_and_errors():
    image = np.zeros((4, 6, 3), np.uint8)
    for shape in [(4, 6), (1, 4, 6), (4, 6, 1), (1, 1, 4, 6)]:
        model = CallableModel(lambda im, shape=shape: np.ones(shape, np.float64))
        assert model.predict(image).depth.shape == (4, 6)
    with pytest.raises(ModelError, match=r"shape \(2, 4, 6\)"):
        CallableModel(lambda im: np.ones((2, 4, 6))).predict(image)
    with pytest.raises(ModelError, match="callable"):
        CallableModel(42)
    with pytest.raises(DpbenchError, match="output_kind"):
        CallableModel(lambda im: im, output_kind="depth")
    with pytest.raises(DpbenchError, match="unknown option.*colour"):
        dpbench.evaluate(lambda im: im, colour="red")


def test_focal_is_passed_by_keyword_or_position_and_recorded():
    image = np.zeros((4, 6, 3), np.uint8)
    got = []
    keyword = CallableModel(lambda im, *, focal_px=None: got.append(focal_px) or np.ones((4, 6)))
    positional = CallableModel(lambda im, f: got.append(f) or np.ones((4, 6)))
    plain = CallableModel(lambda im: np.ones((4, 6)))
    assert keyword.predict(image, 500.0).focal_px == 500.0
    assert positional.predict(image, None).focal_px is None
    assert plain.predict(image, 300.0).meta["focal_source"] == "given"
    assert got == [500.0, None]


def test_an_interrupted_evaluation_resumes(sample, tmp_path):
    lookup, calls = sample["lookup"], []

    def flaky(image):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user stops the notebook cell
        return lookup[_key(image)].depth

    quiet = {"suite": "sample", "data_root": sample["root"], "out": tmp_path, "datasets": ["middlebury"],
             "progress": False, "workers": 0, "say": lambda message: None}
    with pytest.raises(KeyboardInterrupt):
        dpbench.evaluate(flaky, **quiet)
    (first,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    result = dpbench.evaluate(flaky, **quiet)
    assert result.run.resumed and result.run_dir == first and result.status == "complete"
    tasks = len(result.run.store.manifest["suite_info"]["datasets"][0]["tasks"])
    assert tasks >= 2
    assert result.run.rows_written == 2 * tasks  # the two samples not scored before, one row per task
    assert result.flat() == pytest.approx(_gt_flat(sample, ["middlebury"]), abs=1e-9)


def test_module_precision_runs_under_autocast(sample):
    torch = pytest.importorskip("torch")
    dtypes = []

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 1, 1)

        def forward(self, x):
            y = self.conv(x)
            dtypes.append(y.dtype)
            return y.abs() + 1

    model = CallableModel(Probe(), precision="bf16")
    prediction = model.predict(np.zeros((4, 6, 3), np.uint8))
    assert dtypes == [torch.bfloat16] and prediction.depth.dtype == np.float32
    assert model.describe()["precision"] == "bf16"
    with pytest.raises(ModelError, match="precision"):
        CallableModel(Probe(), precision="fp8")
