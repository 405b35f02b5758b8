"""Adapters of the boundary/extra depth sets: spring, ibims, hypersim, nyuv2, kitti, diode."""

import h5py
import numpy as np
import pytest
from _fake_trees import (
    make_diode_tree,
    make_hypersim_tree,
    make_ibims_tree,
    make_kitti_tree,
    make_nyu_mat_tree,
    make_nyu_png_tree,
    make_spring_tree,
)

from dpbench.datasets import open_dataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image


# ---------------------------------------------------------------------------------- Spring
def test_spring(tmp_path, rng):
    truth = make_spring_tree(tmp_path / "spring", rng)
    ds = open_dataset("spring", tmp_path / "spring")
    assert ds.ids == ["0001/0001", "0001/0002", "0004/0001"] and ds.task == "boundary_depth"
    for sample in ds:
        t = truth[f"left:{sample.id}"]
        np.testing.assert_array_equal(sample.image, t["image"])
        disparity = t["disparity"][::2, ::2].astype(np.float64)  # 2x GT -> image resolution
        expected_valid = np.isfinite(disparity) & (disparity > 0) & (t["sky"] == 0)
        assert not expected_valid[0, 0] and not expected_valid[1, 2] and not expected_valid[0, -1]
        np.testing.assert_array_equal(sample.valid, expected_valid)
        expected = t["fx"] * 0.065 / disparity[expected_valid]
        np.testing.assert_allclose(sample.depth[expected_valid], expected, rtol=1e-6)
        assert sample.focal_px == t["fx"]
    right = open_dataset("spring", tmp_path / "spring", camera="right", sky="keep")[2]
    t = truth["right:0004/0001"]
    assert right.valid[0, -1] and np.array_equal(right.image, t["image"])


def test_spring_errors(tmp_path, rng):
    make_spring_tree(tmp_path, rng)
    scene = tmp_path / "train" / "0001"
    (scene / "maps" / "skymap_left" / "skymap_left_0002.png").unlink()
    with pytest.raises(DatasetError, match="skymap_left_0002.png"):
        open_dataset("spring", tmp_path)
    assert len(open_dataset("spring", tmp_path, sky="keep")) == 3
    with h5py.File(scene / "disp1_left" / "disp1_left_0001.dsp5", "w") as handle:
        handle.create_dataset("disparity", data=np.ones((4, 6), np.float32))
    with pytest.raises(DatasetError, match="expected twice the image's 6x4"):
        open_dataset("spring", tmp_path, sky="keep")[0]
    with h5py.File(scene / "disp1_left" / "disp1_left_0001.dsp5", "w") as handle:
        handle.create_dataset("flow", data=np.ones((8, 12), np.float32))
    with pytest.raises(DatasetError, match="no 'disparity' dataset"):
        open_dataset("spring", tmp_path, sky="keep")[0]
    (scene / "cam_data" / "intrinsics.txt").write_text("1 2 3\n")
    with pytest.raises(DatasetError, match="expected 4 values"):
        open_dataset("spring", tmp_path, sky="keep")[1]


# ---------------------------------------------------------------------------------- iBims
def test_ibims(tmp_path, rng):
    truth = make_ibims_tree(tmp_path, rng)
    ds = open_dataset("ibims", tmp_path)
    assert ds.ids == ["office_03", "corridor_01"]  # imagelist.txt order
    for sample in ds:
        t = truth[sample.id]
        expected_valid = (t["raw"] > 0) & (t["invalid"] > 0) & (t["transp"] > 0)
        np.testing.assert_array_equal(sample.image, t["image"])
        np.testing.assert_array_equal(sample.valid, expected_valid)
        np.testing.assert_allclose(sample.depth[expected_valid], (t["raw"] * 50.0 / 65535.0)[expected_valid], rtol=1e-6)
        assert sample.focal_px == t["fx"]
    loose = open_dataset("ibims", tmp_path / "ibims1_core_raw", masks="none")
    assert loose.ids == ["office_03", "corridor_01"]  # list found in the parent folder
    assert loose[0].valid.sum() == (truth["office_03"]["raw"] > 0).sum()


def test_ibims_errors(tmp_path, rng):
    make_ibims_tree(tmp_path, rng, image_list=False)
    core = tmp_path / "ibims1_core_raw"
    assert open_dataset("ibims", tmp_path).ids == ["corridor_01", "office_03"]
    (core / "calib" / "office_03.txt").write_text("1,2,3\n")
    with pytest.raises(DatasetError, match="expected 4 values"):
        open_dataset("ibims", tmp_path)[1]
    (core / "mask_transp" / "corridor_01.png").unlink()
    with pytest.raises(DatasetError, match="mask_transp/corridor_01.png"):
        open_dataset("ibims", tmp_path)
    assert open_dataset("ibims", tmp_path, masks="invalid").ids == ["corridor_01", "office_03"]


# ---------------------------------------------------------------------------------- HyperSim
def test_hypersim(tmp_path, rng):
    truth = make_hypersim_tree(tmp_path, rng)
    ds = open_dataset("hypersim", tmp_path)
    assert ds.split == "val" and ds.ids == ["ai_001_001/cam_00/0000", "ai_001_001/cam_00/0003"]
    focal = 886.81 * 8 / 1024  # the standard focal scaled to the fake 8-pixel width
    for sample in ds:
        t = truth[sample.id]
        np.testing.assert_array_equal(sample.image, read_image(t["image_path"]))
        distance = t["distance"].astype(np.float64)
        u, v = np.meshgrid(np.arange(8) - 3.5, np.arange(6) - 2.5)
        expected = distance * focal / np.sqrt(u**2 + v**2 + focal**2)
        expected_valid = np.isfinite(distance)
        np.testing.assert_array_equal(sample.valid, expected_valid)
        np.testing.assert_allclose(sample.depth[expected_valid], expected[expected_valid], rtol=1e-6)
        assert sample.focal_px == pytest.approx(focal)
    assert open_dataset("hypersim", tmp_path, split="test").ids == ["ai_002_004/cam_01/0001"]
    assert len(open_dataset("hypersim", tmp_path, split="all")) == 4
    strict = open_dataset("hypersim", tmp_path, invalid="nan+entity")[0]
    assert not strict.valid[1, 1] and strict.valid.sum() == ds[0].valid.sum() - 1


def test_hypersim_errors(tmp_path, rng):
    make_hypersim_tree(tmp_path, rng)
    csv = tmp_path / "metadata_images_split_scene_v1.csv"
    moved = tmp_path.parent / f"{tmp_path.name}_split.csv"
    csv.rename(moved)
    with pytest.raises(DatasetError, match="metadata_images_split_scene_v1.csv"):
        open_dataset("hypersim", tmp_path)
    assert len(open_dataset("hypersim", tmp_path, split_file=moved)) == 2
    moved.write_text("scene_name,frame_id\n")
    with pytest.raises(DatasetError, match="missing column"):
        open_dataset("hypersim", tmp_path, split_file=moved)
    depth = tmp_path / "ai_001_001/images/scene_cam_00_geometry_hdf5/frame.0000.depth_meters.hdf5"
    depth.write_bytes(b"not hdf5")
    with pytest.raises(DatasetError, match="frame.0000.depth_meters.hdf5"):
        open_dataset("hypersim", tmp_path, split="all")[0]


# ---------------------------------------------------------------------------------- NYUv2
def test_nyuv2_official_mat(tmp_path, rng):
    truth = make_nyu_mat_tree(tmp_path, rng)
    ds = open_dataset("nyuv2", tmp_path)
    assert ds.ids == ["0002", "0005"] and ds.options == {"depth": "raw", "crop": "eigen"}
    sample = ds[1]
    np.testing.assert_array_equal(sample.image, truth["images"][4])
    crop = np.zeros((480, 640), bool)
    crop[45:471, 41:601] = True
    raw = truth["raw"][4]
    np.testing.assert_array_equal(sample.valid, crop & (raw > 0))
    np.testing.assert_array_equal(sample.depth[sample.valid], raw[sample.valid])
    assert sample.focal_px == 518.8579
    filled = open_dataset("nyuv2", tmp_path, depth="filled", crop="none")[0]
    np.testing.assert_array_equal(filled.depth, truth["depths"][1])
    assert filled.valid.all()
    assert len(open_dataset("nyuv2", tmp_path, split="train")) == 3


def test_nyuv2_png_export(tmp_path, rng):
    truth = make_nyu_png_tree(tmp_path, rng)
    ds = open_dataset("nyuv2", tmp_path, crop="none")
    assert ds.ids == ["bathroom/0001", "kitchen/0045"]
    sample = ds[1]
    t = truth["kitchen/0045"]
    np.testing.assert_array_equal(sample.valid, t["mm"] > 0)
    np.testing.assert_allclose(sample.depth[sample.valid], t["mm"][t["mm"] > 0] / 1000.0, rtol=1e-6)
    assert open_dataset("nyuv2", tmp_path, depth="filled")[0].depth.max() > 0
    assert open_dataset("nyuv2", tmp_path, split="all").ids[-1] == "office/0003"


def test_nyuv2_errors(tmp_path, rng):
    make_nyu_mat_tree(tmp_path, rng, count=3, test=(1, 7))
    with pytest.raises(DatasetError, match="outside 1..3"):
        open_dataset("nyuv2", tmp_path)
    (tmp_path / "splits.mat").write_bytes(b"junk" * 40)
    with pytest.raises(DatasetError, match="splits.mat"):
        open_dataset("nyuv2", tmp_path)
    (tmp_path / "nyu_depth_v2_labeled.mat").write_bytes(b"junk" * 40)
    with pytest.raises(DatasetError, match="nyu_depth_v2_labeled.mat"):
        open_dataset("nyuv2", tmp_path)


# ---------------------------------------------------------------------------------- KITTI
def test_kitti_eigen_split(tmp_path, rng):
    truth = make_kitti_tree(tmp_path, rng)
    ds = open_dataset("kitti", tmp_path)
    assert ds.ids == ["2011_09_26_drive_0002_sync/0000000005", "2011_10_03_drive_0047_sync/0000000000",
                      "2011_09_26_drive_0009_sync/0000000016"]
    assert ds.exclusion_summary() == {"no improved ground truth": 1}
    for sample in ds:
        t = truth[sample.id]
        np.testing.assert_array_equal(sample.image, t["image"])
        crop = np.zeros((10, 24), bool)
        crop[int(0.40810811 * 10):int(0.99189189 * 10), int(0.03594771 * 24):int(0.96405229 * 24)] = True
        np.testing.assert_array_equal(sample.valid, crop & (t["raw"] > 0))
        np.testing.assert_allclose(sample.depth[sample.valid], t["raw"][sample.valid] / 256.0, rtol=1e-7)
        assert sample.focal_px == t["fx"]
    assert open_dataset("kitti", tmp_path, split="val").ids == [
        "2011_09_26_drive_0002_sync/0000000005", "2011_09_26_drive_0002_sync/0000000069",
        "2011_10_03_drive_0047_sync/0000000000"]
    assert len(open_dataset("kitti", tmp_path, split="all", crop="none")) == 4


def test_kitti_list_formats_and_errors(tmp_path, rng):
    make_kitti_tree(tmp_path, rng)
    marigold = tmp_path / "list.txt"
    marigold.write_text(
        "2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.png "
        "2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0000000069.png 721.5377\n")
    assert open_dataset("kitti", tmp_path, split_file=marigold).ids == ["2011_09_26_drive_0002_sync/0000000069"]
    (tmp_path / "eigen_test_files.txt").unlink()
    with pytest.raises(DatasetError, match="eigen_test_files.txt"):
        open_dataset("kitti", tmp_path)
    calib = tmp_path / "2011_10_03" / "calib_cam_to_cam.txt"
    calib.write_text(calib.read_text().replace("P_rect_02", "P_rect_03"))
    with pytest.raises(DatasetError, match="P_rect_02"):
        open_dataset("kitti", tmp_path, split="val")[2]


# ---------------------------------------------------------------------------------- DIODE
def test_diode(tmp_path, rng):
    truth = make_diode_tree(tmp_path, rng)
    ds = open_dataset("diode", tmp_path)
    assert ds.ids == ["indoors/scene_00019/scan_00183/00019_00183_indoors_000_010",
                      "indoors/scene_00020/scan_00184/00020_00184_indoors_020_010",
                      "outdoors/scene_00022/scan_00194/00022_00194_outdoors_010_010"]
    for sample in ds:
        t = truth[sample.id]
        np.testing.assert_array_equal(sample.image, t["image"])
        np.testing.assert_array_equal(sample.valid, t["mask"])
        np.testing.assert_array_equal(sample.depth[t["mask"]], t["depth"][t["mask"]])
        assert sample.focal_px == 886.81
    assert len(open_dataset("diode", tmp_path, split="val_outdoors")) == 1
    npy = tmp_path / "val/outdoors/scene_00022/scan_00194/00022_00194_outdoors_010_010_depth_mask.npy"
    np.save(npy, np.ones((3, 3), np.float32))
    with pytest.raises(DatasetError, match="validity mask"):
        ds[2]
    npy.unlink()
    with pytest.raises(DatasetError, match="_depth_mask.npy"):
        open_dataset("diode", tmp_path)
