"""``predictions:<dir>``: every file kind written in its real format and read back."""

from __future__ import annotations

import json
import logging

import cv2
import h5py
import numpy as np
import pytest

from dpbench.errors import ModelError
from dpbench.io.pfm import write_pfm
from dpbench.models import check_prediction, get_model_info, load_model
from dpbench.tasks import get_task
from dpbench.types import Sample

H, W = 12, 16


def sample(sample_id="a", meta=None, h=H, w=W):
    return Sample(sample_id, np.zeros((h, w, 3), np.uint8), meta=meta or {})


@pytest.fixture
def depth(rng):
    return rng.uniform(0.5, 20.0, size=(H, W)).astype(np.float32)


def load(path, **options):
    return load_model(f"predictions:{path}", **options)


def test_family_card():
    info, arg = get_model_info("predictions:/some/dir")
    assert info.family and arg == "/some/dir" and not info.reads_ground_truth


@pytest.mark.parametrize("kind", ["npy", "npz", "npz_single", "pfm", "pfm_big", "tiff"])
def test_float_file_kinds_round_trip(tmp_path, depth, kind):
    if kind == "npy":
        np.save(tmp_path / "a.npy", depth)
    elif kind == "npz":
        np.savez_compressed(tmp_path / "a.npz", depth=depth, other=np.zeros(3))
    elif kind == "npz_single":
        np.savez(tmp_path / "a.npz", depth)  # stored as arr_0
    elif kind == "pfm":
        write_pfm(tmp_path / "a.pfm", depth)
    elif kind == "pfm_big":
        write_pfm(tmp_path / "a.pfm", depth, scale=3.0, little_endian=False)
    else:
        assert cv2.imwrite(str(tmp_path / "a.tiff"), depth)
    model = load(tmp_path)
    pred = model.predict(sample())
    np.testing.assert_array_equal(pred.depth, depth)
    assert pred.focal_px is None and model.output_kind == "metric_depth"
    assert pred.meta["prediction_file"].endswith(kind.split("_")[0] if kind != "pfm_big" else "pfm")


def test_hand_built_pfm_bytes(tmp_path):
    # 2×3 little-endian, bottom row first in the file
    rows_bottom_up = np.array([[4, 5, 6], [1, 2, 3]], dtype="<f4")
    (tmp_path / "x.pfm").write_bytes(b"Pf\n3 2\n-1.0\n" + rows_bottom_up.tobytes())
    pred = load(tmp_path).predict(sample("x", h=2, w=3))
    np.testing.assert_array_equal(pred.depth, [[1, 2, 3], [4, 5, 6]])


def test_png16_scale_sources(tmp_path, depth):
    values = np.round(depth * 1000).astype(np.uint16)
    assert cv2.imwrite(str(tmp_path / "a.png"), values)
    expected = values.astype(np.float64) / 1000
    # no scale anywhere: a clear error
    with pytest.raises(ModelError, match=r"sample 'a'.*a\.png.*need a scale.*png_scale"):
        load(tmp_path).predict(sample())
    # option
    np.testing.assert_allclose(load(tmp_path, png_scale=1000).predict(sample()).depth, expected, rtol=1e-6)
    # scale.txt
    (tmp_path / "scale.txt").write_text("1000\n")
    np.testing.assert_allclose(load(tmp_path).predict(sample()).depth, expected, rtol=1e-6)
    # meta.json wins over scale.txt in the same folder; the option wins over both
    (tmp_path / "meta.json").write_text(json.dumps({"png_scale": 500}))
    np.testing.assert_allclose(load(tmp_path).predict(sample()).depth, 2 * expected, rtol=1e-6)
    np.testing.assert_allclose(load(tmp_path, png_scale=250).predict(sample()).depth, 4 * expected, rtol=1e-6)


def test_png_scale_nearest_folder_first(tmp_path, depth):
    (tmp_path / "eth3d").mkdir()
    values = np.round(depth * 256).astype(np.uint16)
    # hand-written with PIL rather than OpenCV
    from PIL import Image

    Image.fromarray(values).save(tmp_path / "eth3d" / "a.png")
    (tmp_path / "scale.txt").write_text("1")
    (tmp_path / "eth3d" / "scale.txt").write_text("256")
    pred = load(tmp_path).predict(sample(meta={"dataset": "eth3d"}))
    np.testing.assert_allclose(pred.depth, values / 256.0, rtol=1e-6)


def test_png_refusals(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((H, W), 7, np.uint8))
    with pytest.raises(ModelError, match="uint8 image: predictions must be 16-bit"):
        load(tmp_path, png_scale=1).predict(sample())
    cv2.imwrite(str(tmp_path / "a.png"), np.full((H, W, 3), 7, np.uint16))
    with pytest.raises(ModelError, match="single-channel"):
        load(tmp_path, png_scale=1).predict(sample())
    (tmp_path / "a.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ModelError, match=r"cannot read prediction .*a\.png"):
        load(tmp_path, png_scale=1).predict(sample())
    (tmp_path / "a.png").unlink()
    (tmp_path / "scale.txt").write_text("one thousand")
    cv2.imwrite(str(tmp_path / "a.png"), np.full((H, W), 7, np.uint16))
    with pytest.raises(ModelError, match=r"scale\.txt: expected one number"):
        load(tmp_path).predict(sample())


def test_dataset_subfolders_and_ids_with_slashes(tmp_path, depth):
    (tmp_path / "sintel" / "alley_1").mkdir(parents=True)
    (tmp_path / "spring" / "alley_1").mkdir(parents=True)
    np.save(tmp_path / "sintel" / "alley_1" / "frame_0001.npy", depth)
    np.save(tmp_path / "spring" / "alley_1" / "frame_0001.npy", depth * 2)
    np.save(tmp_path / "loose.npy", depth * 3)
    model = load(tmp_path)
    model.begin_dataset("sintel")
    np.testing.assert_array_equal(model.predict(sample("alley_1/frame_0001")).depth, depth)
    # the sample's own meta wins over the runner's hint
    other = sample("alley_1/frame_0001", meta={"dataset": "spring"})
    np.testing.assert_array_equal(model.predict(other).depth, depth * 2)
    # a dataset without a subfolder reads from the root
    model.begin_dataset("ibims")
    np.testing.assert_array_equal(model.predict(sample("loose")).depth, depth * 3)
    # inside an existing dataset folder there is no fallback to the root
    model.begin_dataset("sintel")
    with pytest.raises(ModelError, match=r"sample 'loose': no prediction file found.*sintel/loose\.npy"):
        model.predict(sample("loose"))
    # the dataset= option is the last resort
    np.testing.assert_array_equal(
        load(tmp_path, dataset="spring").predict(sample("alley_1/frame_0001")).depth, depth * 2
    )


def test_image_suffix_in_ids(tmp_path, depth):
    np.save(tmp_path / "IMG_1.npy", depth)
    np.save(tmp_path / "IMG_2.jpg.npy", depth + 1)
    model = load(tmp_path)
    np.testing.assert_array_equal(model.predict(sample("IMG_1.jpg")).depth, depth)
    np.testing.assert_array_equal(model.predict(sample("IMG_2.jpg")).depth, depth + 1)


def test_ambiguous_and_unsafe_ids(tmp_path, depth):
    np.save(tmp_path / "a.npy", depth)
    write_pfm(tmp_path / "a.pfm", depth)
    with pytest.raises(ModelError, match=r"ambiguous predictions.*a\.npy.*a\.pfm"):
        load(tmp_path).predict(sample())
    with pytest.raises(ModelError, match="cannot be mapped"):
        load(tmp_path).predict(sample("../outside"))


def test_focal_sources(tmp_path, depth):
    np.savez(tmp_path / "a.npz", depth=depth, focal_px=np.float32(321.5))
    np.save(tmp_path / "b.npy", depth)
    (tmp_path / "focal.json").write_text(json.dumps({"a": 1.0, "b": 400}))
    model = load(tmp_path)
    a, b = model.predict(sample("a")), model.predict(sample("b"))
    assert a.focal_px == pytest.approx(321.5)  # the file's own focal wins
    assert b.focal_px == 400.0 and b.meta["focal_source"] == "estimated"
    given = model.predict(sample("b"), focal_px=99.0)
    assert given.focal_px == 400.0 and given.meta["focal_px_given_ignored"] == 99.0
    (tmp_path / "focal.json").write_text(json.dumps({"b": -3}))
    with pytest.raises(ModelError, match=r"focal\.json.*positive finite"):
        load(tmp_path).predict(sample("b"))


def test_output_kind_declarations(tmp_path, depth, caplog):
    np.save(tmp_path / "a.npy", depth - 5.0)  # negative values: fine for affine-invariant outputs
    (tmp_path / "meta.json").write_text(json.dumps({"output_kind": "relative_depth", "colour": 1}))
    with caplog.at_level(logging.WARNING):
        model = load(tmp_path)
    assert model.output_kind == "relative_depth" and "colour" in caplog.text
    model.predict(sample())
    assert load(tmp_path, output_kind="relative_disparity").output_kind == "relative_disparity"
    # declared metric: negative depth refused naming the sample and the file
    with pytest.raises(ModelError, match=r"sample 'a'.*values <= 0.*a\.npy"):
        load(tmp_path, output_kind="metric_depth").predict(sample())
    (tmp_path / "meta.json").write_text(json.dumps({"output_kind": "disparity"}))
    with pytest.raises(ModelError, match="meta.json: output_kind must be one of"):
        load(tmp_path)
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(ModelError, match="meta.json: invalid JSON"):
        load(tmp_path)


def test_shape_checks_and_resize(tmp_path, rng):
    small = rng.uniform(1, 2, size=(H // 2, W // 2)).astype(np.float32)
    np.save(tmp_path / "a.npy", small)
    with pytest.raises(ModelError, match=r"sample 'a'.*a\.npy has shape 6×8 but the image is 12×16.*resize=True"):
        load(tmp_path).predict(sample())
    pred = load(tmp_path, resize=True).predict(sample())
    np.testing.assert_allclose(pred.depth, cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR))
    assert pred.meta["resized"] and pred.meta["native_hw"] == (6, 8)
    np.save(tmp_path / "a.npy", np.ones((W, H), np.float32))
    with pytest.raises(ModelError, match=r"transposed\?"):
        load(tmp_path).predict(sample())
    np.save(tmp_path / "a.npy", np.ones((1, H, W), np.float32))  # a leading channel is dropped
    assert load(tmp_path).predict(sample()).depth.shape == (H, W)
    np.save(tmp_path / "a.npy", np.ones((2, H, W), np.float32))
    with pytest.raises(ModelError, match=r"expected an H×W array, got shape \(2, 12, 16\)"):
        load(tmp_path).predict(sample())


def test_non_finite_reported_with_sample_id(tmp_path, depth):
    depth[2, 3] = np.nan
    depth[4, 5] = np.inf
    np.save(tmp_path / "scene_7.npy", depth)
    with pytest.raises(ModelError, match=r"sample 'scene_7'.*2 non-finite values.*scene_7\.npy"):
        load(tmp_path).predict(sample("scene_7"))


def test_bad_files_and_arguments(tmp_path, depth):
    np.save(tmp_path / "a.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ModelError, match=r"cannot read prediction .*a\.npy"):
        load(tmp_path).predict(sample())
    np.savez(tmp_path / "b.npz", x=depth, y=depth)
    with pytest.raises(ModelError, match=r"'depth' or a single array, found \['x', 'y'\]"):
        load(tmp_path).predict(sample("b"))
    with pytest.raises(ModelError, match="does not exist"):
        load(tmp_path / "missing")
    (tmp_path / "preds.txt").write_text("x")
    with pytest.raises(ModelError, match="not HDF5"):
        load(tmp_path / "preds.txt")
    with pytest.raises(ValueError, match="takes no checkpoint"):
        load(tmp_path, checkpoint="x.pt")
    with pytest.raises(TypeError, match="needs a Sample"):
        load(tmp_path).predict(np.zeros((H, W, 3), np.uint8))


def test_hdf5_file(tmp_path, depth):
    path = tmp_path / "preds.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["output_kind"] = "relative_disparity"
        node = handle.create_dataset("sintel/alley_1/frame_0001", data=depth.astype(np.float16),
                                     compression="gzip")
        node.attrs["focal_px"] = 512.0
        handle.create_dataset("plain", data=depth)
    model = load(path)
    assert model.output_kind == "relative_disparity"
    model.begin_dataset("sintel")
    pred = model.predict(sample("alley_1/frame_0001"))
    np.testing.assert_array_equal(pred.depth, depth.astype(np.float16).astype(np.float32))
    assert pred.focal_px == 512.0
    assert model.predict(sample("plain")).focal_px is None  # falls back to the top level
    with pytest.raises(ModelError, match=r"no dataset /sintel/nope or /nope .*in .*preds\.h5"):
        model.predict(sample("nope"))
    # a folder holding predictions.h5 (e.g. a dpbench run folder) reads it
    run = tmp_path / "run"
    run.mkdir()
    path.rename(run / "predictions.h5")
    assert load(run, dataset="sintel").predict(sample("alley_1/frame_0001")).focal_px == 512.0
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    with pytest.raises(ModelError, match="cannot open as HDF5"):
        load(tmp_path / "broken.h5")


def test_describe(tmp_path, depth):
    np.save(tmp_path / "a.npy", depth)
    (tmp_path / "meta.json").write_text(json.dumps({"model": "MyNet v2", "png_scale": 100}))
    info = load(tmp_path).describe()
    assert info["source"] == str(tmp_path) and info["format"] == "files"
    assert info["declared_by"] == "MyNet v2" and info["png_scale"] == 100
    assert info["name"] == f"predictions:{tmp_path}"


def test_hdf5_percent_escaped_names(tmp_path, depth):
    path = tmp_path / "escaped.h5"
    with h5py.File(path, "w") as handle:  # by hand: '/' in the id written as %2F
        node = handle.create_dataset("sintel/alley_1%2Fframe_0001", data=depth)
        node.attrs["output_kind"] = "relative_depth"
        node.attrs["focal_px"] = np.nan  # "no focal"
    model = load(path)
    assert model.output_kind == "relative_depth"  # from the sample's attribute
    model.begin_dataset("sintel")
    pred = model.predict(sample("alley_1/frame_0001"))
    np.testing.assert_array_equal(pred.depth, depth)
    assert pred.focal_px is None


def test_reads_the_run_store_prediction_cache(tmp_path, depth):
    from dpbench.store import write_prediction_part

    part = write_prediction_part(tmp_path / "parts", "sintel", "alley_1/frame_0001", depth,
                                 {"focal_px": 300.0, "output_kind": "metric_depth"})
    model = load(part, dataset="sintel")
    pred = model.predict(sample("alley_1/frame_0001"))
    np.testing.assert_allclose(pred.depth, depth, rtol=1e-3)  # cached as float16
    assert pred.focal_px == 300.0 and model.output_kind == "metric_depth"


def test_write_prediction_round_trip(tmp_path, depth):
    from dpbench.models.predictions import write_prediction

    path = write_prediction(tmp_path, "alley_1/frame_0001", depth, dataset="sintel", focal_px=688.0)
    assert path == tmp_path / "sintel" / "alley_1" / "frame_0001.npz"
    write_prediction(tmp_path, "loose", depth * 2)
    model = load(tmp_path)
    model.begin_dataset("sintel")
    pred = model.predict(sample("alley_1/frame_0001"))
    np.testing.assert_array_equal(pred.depth, depth)
    assert pred.focal_px == 688.0
    model.begin_dataset("nyu")
    np.testing.assert_array_equal(model.predict(sample("loose")).depth, depth * 2)
    with pytest.raises(ValueError, match="H×W float array"):
        write_prediction(tmp_path, "x", np.zeros((2, 2, 3)))
    with pytest.raises(ModelError, match="cannot be mapped"):
        write_prediction(tmp_path, "../x", depth)


# -- focal-only folders (Table 3 estimators without depth: SPEC, im2pcl) ----------------------

def test_focal_only_folder_gives_focal_predictions(tmp_path, depth):
    (tmp_path / "focal.json").write_text(json.dumps({"a": 512.5, "b": 300}))
    model = load(tmp_path)
    pred = model.predict(sample("a"))
    assert pred.focal_px == 512.5 and pred.meta["focal_only"] is True
    assert pred.meta["focal_source"] == "estimated" and pred.depth.shape == (0, 0)
    with pytest.raises(ModelError, match=r"focal\.json holds only focal lengths, no depth map"):
        check_prediction(pred, sample("a"), "metric_depth")
    missing = model.predict(sample("c"))  # no entry: no estimate, and still no depth
    assert missing.focal_px is None and missing.meta["focal_only"] is True
    with pytest.raises(ModelError, match="no usable focal-length estimate"):
        get_task("focal").score(Sample("c", np.zeros((H, W, 3), np.uint8), focal_px=500.0), missing, None)


def test_focal_json_next_to_depth_files_is_not_focal_only(tmp_path, depth):
    np.save(tmp_path / "a.npy", depth)
    (tmp_path / "focal.json").write_text(json.dumps({"a": 512.5, "b": 300}))
    model = load(tmp_path)
    assert model.predict(sample("a")).meta.get("focal_only") is None
    with pytest.raises(ModelError, match="no prediction file found"):
        model.predict(sample("b"))


def test_focal_only_dataset_subfolder(tmp_path, depth):
    (tmp_path / "nyu").mkdir()
    (tmp_path / "kitti").mkdir()
    (tmp_path / "nyu" / "focal.json").write_text(json.dumps({"a": 400.0}))
    np.save(tmp_path / "kitti" / "a.npy", depth)
    model = load(tmp_path)
    model.begin_dataset("nyu")
    assert model.predict(sample("a")).meta["focal_only"] is True
    model.begin_dataset("kitti")
    assert model.predict(sample("a")).depth.shape == depth.shape


def test_focal_only_folder_scores_the_focal_suite_and_errors_depth_tasks(tmp_path):
    from click.testing import CliRunner

    from dpbench.cli import cli
    from dpbench.datasets import open_dataset
    from dpbench.sample import generate_sample_suite
    from dpbench.store import list_runs

    data = tmp_path / "data"
    generate_sample_suite(data / "sample", scale=0.25)
    exif = open_dataset("exif_folder", data / "sample" / "exif", split="all")
    truth = {item.id: item.focal_px for item in exif}
    factors = [1.1, 0.6, 1.3, 1.0, 2.0, 0.8]  # relative errors 0.1, 0.4, 0.3, 0, 1.0, 0.2
    estimates = {sid: focal * f for (sid, focal), f in zip(sorted(truth.items()), factors, strict=True)}
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "focal.json").write_text(json.dumps(estimates))
    args = ["run", "--model", f"predictions:{folder}", "--suite", "sample", "-d", "exif_folder", "-d",
            "middlebury", "--data-root", str(data), "--out", str(tmp_path / "runs"), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (store,) = list_runs(tmp_path / "runs")
    rows = store.rows()
    focal = rows[rows["task"] == "focal"].set_index("sample_id")
    assert (focal["status"] == "ok").all() and len(focal) == 6
    for sid, estimate in estimates.items():
        assert focal.loc[sid, "focal_pred"] == pytest.approx(estimate)
        assert focal.loc[sid, "focal_rel_err"] == pytest.approx(abs(estimate - truth[sid]) / truth[sid])
    depth_rows = rows[rows["dataset"] == "middlebury"]
    assert len(depth_rows) and (depth_rows["status"] == "error").all()
    assert depth_rows["error"].str.contains("holds only focal lengths, no depth map").all()
