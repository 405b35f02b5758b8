"""nuScenes adapter on fake tables + samples, checked against an independent projection."""

import numpy as np
import pytest
from _fake_trees import make_nuscenes_tree

from dpbench.datasets import open_dataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image


def _expected_depth(t, min_dist=1.0):
    """Independent reference: 4×4 homogeneous matrices and a per-point loop."""
    def matrix(rotation, translation):
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = rotation, translation
        return m

    raw = np.fromfile(t["lidar_file"], dtype="<f4").reshape(-1, 5)
    chain = (np.linalg.inv(matrix(*t["camera_sensor"])) @ np.linalg.inv(matrix(*t["camera_ego"]))
             @ matrix(*t["lidar_ego"]) @ matrix(*t["lidar_sensor"]))
    height, width = t["size"]
    depth = np.zeros((height, width))
    for x, y, z in raw[:, :3].astype(np.float64):
        cx, cy, cz, _ = chain @ np.array([x, y, z, 1.0])
        if cz <= min_dist:
            continue
        u, v, s = t["K"] @ np.array([cx, cy, cz])
        u, v = u / s, v / s
        if not (1 < u < width - 1 and 1 < v < height - 1):
            continue
        row, col = int(np.floor(v + 0.5)), int(np.floor(u + 0.5))
        if depth[row, col] == 0 or cz < depth[row, col]:
            depth[row, col] = cz
    return depth


def test_val_front_camera(tmp_path, rng):
    truth = make_nuscenes_tree(tmp_path, rng)
    ds = open_dataset("nuscenes", tmp_path)
    assert ds.split == "val" and ds.ids == ["scene-0003/CAM_FRONT/sample-0-0", "scene-0003/CAM_FRONT/sample-0-1"]
    assert ds.options["cameras"] == ["CAM_FRONT"] and ds.options["tables"] == "v1.0-trainval"
    for sample in ds:
        t = truth[sample.id]
        np.testing.assert_array_equal(sample.image, read_image(t["image_file"]))
        expected = _expected_depth(t)
        assert np.count_nonzero(expected) > 20
        np.testing.assert_array_equal(sample.valid, expected > 0)
        np.testing.assert_allclose(sample.depth, expected, rtol=1e-6)
        assert sample.focal_px == 10.0 and sample.meta["camera"] == "CAM_FRONT"


def test_all_split_cameras_and_options(tmp_path, rng):
    truth = make_nuscenes_tree(tmp_path, rng)
    ds = open_dataset("nuscenes", tmp_path, split="all", cameras=["CAM_FRONT", "CAM_BACK"], min_dist=0.5)
    assert len(ds) == 6 and ds.ids[0].startswith("scene-0001/")
    back = ds[ds.ids.index("scene-0003/CAM_BACK/sample-0-1")]
    np.testing.assert_allclose(back.depth, _expected_depth(truth[back.id], min_dist=0.5), rtol=1e-6)
    with pytest.raises(DatasetError, match="cameras"):
        open_dataset("nuscenes", tmp_path, cameras="CAM_TOP")
    floor = open_dataset("nuscenes", tmp_path, rounding="floor")[0]
    assert floor.valid.sum() > 0 and ds.protocol_hash() != open_dataset("nuscenes", tmp_path, split="all").protocol_hash()


def test_mini_tables_and_subset_split(tmp_path, rng):
    make_nuscenes_tree(tmp_path, rng, scenes={"scene-0103": 3, "scene-0061": 1}, version="v1.0-mini")
    assert open_dataset("nuscenes", tmp_path, split="mini_val").ids == [
        f"scene-0103/CAM_FRONT/sample-0-{i}" for i in range(3)]
    with pytest.raises(DatasetError, match="needs 881"):
        open_dataset("nuscenes", tmp_path, split="val_881")


def test_index_is_cached_and_errors(tmp_path, rng):
    make_nuscenes_tree(tmp_path, rng)
    open_dataset("nuscenes", tmp_path)
    from dpbench.resources import cache_dir

    assert list((cache_dir() / "nuscenes").glob("keyframes-*.json"))
    lidar = sorted((tmp_path / "samples" / "LIDAR_TOP").iterdir())
    lidar[0].unlink()
    with pytest.raises(DatasetError, match="LIDAR_TOP"):
        open_dataset("nuscenes", tmp_path, split="all")
    assert len(open_dataset("nuscenes", tmp_path, split="all", on_error="skip")) == 2
    lidar[1].write_bytes(lidar[1].read_bytes()[:-3])
    ds = open_dataset("nuscenes", tmp_path, split="all", on_error="skip")
    with pytest.raises(DatasetError, match="multiple of 20"):
        ds[ds.ids.index("scene-0003/CAM_FRONT/sample-0-0")]
    (tmp_path / "v1.0-trainval" / "sample_data.json").write_text("[")
    with pytest.raises(DatasetError, match="sample_data.json"):
        open_dataset("nuscenes", tmp_path)
    with pytest.raises(DatasetError, match="v1.0-test"):
        open_dataset("nuscenes", tmp_path, tables="v1.0-test")
