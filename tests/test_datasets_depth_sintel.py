"""Sintel adapter on a fake training tree (merged or side-by-side archives)."""

import struct

import numpy as np
import pytest
from _fake_trees import make_sintel_tree

from dpbench.datasets import open_dataset
from dpbench.errors import DatasetError


@pytest.mark.parametrize("separate", [False, True])
def test_samples(tmp_path, rng, separate):
    truth = make_sintel_tree(tmp_path, rng, separate_archives=separate)
    ds = open_dataset("sintel", tmp_path)
    assert ds.split == "train" and ds.options == {"pass_name": "final"}
    assert ds.ids == ["alley_1/frame_0001", "alley_1/frame_0002", "market_2/frame_0001"]
    for sample in ds:
        t = truth[sample.id]
        np.testing.assert_array_equal(sample.image, t["images"]["final"])
        assert sample.depth.tobytes() == t["depth"].tobytes()  # metres as stored, sky included
        assert sample.valid.all()
        assert sample.focal_px == t["K"][0, 0]
    clean = open_dataset("sintel", tmp_path, pass_name="clean")[2]
    np.testing.assert_array_equal(clean.image, truth["market_2/frame_0001"]["images"]["clean"])
    assert clean.meta["pass"] == "clean" and clean.meta["frame"] == 1


def test_hand_built_dpt_is_read_through_the_adapter(tmp_path, rng):
    make_sintel_tree(tmp_path, rng, scenes={"cave_2": 1}, size=(2, 3))
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 0.0]
    (tmp_path / "training" / "depth" / "cave_2" / "frame_0001.dpt").write_bytes(
        b"PIEH" + struct.pack("<ii", 3, 2) + struct.pack("<6f", *values))
    sample = open_dataset("sintel", tmp_path)[0]
    np.testing.assert_array_equal(sample.depth, [[1, 2, 3], [4, 5, 0]])
    np.testing.assert_array_equal(sample.valid, [[True, True, True], [True, True, False]])


def test_errors(tmp_path, rng):
    make_sintel_tree(tmp_path, rng)
    with pytest.raises(DatasetError, match="pass_name"):
        open_dataset("sintel", tmp_path, pass_name="albedo")
    (tmp_path / "training" / "final" / "alley_1" / "frame_0002.png").unlink()
    with pytest.raises(DatasetError, match="frame_0002.png"):
        open_dataset("sintel", tmp_path)
    ds = open_dataset("sintel", tmp_path, on_error="skip")
    assert len(ds) == 2 and ds.exclusion_summary()
    dpt = tmp_path / "training" / "depth" / "alley_1" / "frame_0001.dpt"
    dpt.write_bytes(struct.pack(">f", 202021.25) + dpt.read_bytes()[4:])
    with pytest.raises(DatasetError, match="202021.25"):
        ds[0]
    dpt.write_bytes(b"PIEH" + struct.pack("<ii", 10, 5) + b"\0" * 200)
    with pytest.raises(DatasetError, match="image .* is 10x4"):
        ds[0]
    cam = tmp_path / "training" / "camdata_left" / "market_2" / "frame_0001.cam"
    cam.write_bytes(cam.read_bytes()[:100])
    with pytest.raises(DatasetError, match="frame_0001.cam"):
        ds[1]
    with pytest.raises(DatasetError, match=r"no samples found .*training/\{depth,camdata_left\}"):
        open_dataset("sintel", tmp_path / "training" / "final")
