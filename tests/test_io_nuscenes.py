"""nuScenes LiDAR files, quaternions and the projection into a camera, against hand computations."""

import struct

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dpbench.errors import DatasetError
from dpbench.io.nuscenes import (
    Pose,
    lidar_points_in_camera,
    load_table,
    quaternion_to_matrix,
    rasterize_depth,
    read_pcd_bin,
    write_pcd_bin,
    write_table,
)


def test_pcd_bin_hand_bytes_and_round_trip(tmp_path):
    (tmp_path / "a.pcd.bin").write_bytes(struct.pack("<10f", 1, 2, 3, 40, 5, -1, -2, -3, 7, 31))
    np.testing.assert_array_equal(read_pcd_bin(tmp_path / "a.pcd.bin"), [[1, 2, 3, 40], [-1, -2, -3, 7]])
    points = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    write_pcd_bin(tmp_path / "b.pcd.bin", points)
    assert read_pcd_bin(tmp_path / "b.pcd.bin").tobytes() == points[:, :4].tobytes()
    (tmp_path / "c.pcd.bin").write_bytes(b"\0" * 24)
    with pytest.raises(DatasetError, match="multiple of 20"):
        read_pcd_bin(tmp_path / "c.pcd.bin")


def test_quaternion_matches_scipy(rng):
    for _ in range(5):
        rotation = Rotation.random(random_state=int(rng.integers(1 << 30)))
        x, y, z, w = rotation.as_quat()
        np.testing.assert_allclose(quaternion_to_matrix([w, x, y, z]), rotation.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix([2, 0, 0, 0]), np.eye(3))  # normalised


def test_projection_chain_by_hand():
    # LiDAR 1 m above the ego origin, no rotation; ego moves 2 m forward (x) between the LiDAR and
    # camera timestamps; the camera looks along ego +x (camera z = ego x, camera x = -ego y).
    cam_to_ego = np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    x, y, z, w = Rotation.from_matrix(cam_to_ego).as_quat()
    point_lidar = np.array([[12.0, 1.0, -0.5]])
    result = lidar_points_in_camera(
        point_lidar,
        lidar_sensor=Pose((1, 0, 0, 0), (0, 0, 1.0)),
        lidar_ego=Pose((1, 0, 0, 0), (100.0, 0, 0)),
        camera_ego=Pose((1, 0, 0, 0), (102.0, 0, 0)),
        camera_sensor=Pose((w, x, y, z), (1.5, 0, 1.5)),
    )
    # ego (camera time) = (12 - 2, 1, 0.5) ; relative to the camera at (1.5, 0, 1.5): (8.5, 1, -1)
    # camera frame: x = -ego_y = -1, y = -ego_z = 1, z = ego_x = 8.5
    np.testing.assert_allclose(result, [[-1.0, 1.0, 8.5]], atol=1e-12)


def test_rasterize_rules():
    K = np.array([[10.0, 0, 8], [0, 10.0, 4.5], [0, 0, 1]])
    points = np.array([
        [0.0, 0.0, 5.0],  # centre -> u = 8, v = 4.5
        [0.0, 0.0, 9.0],  # same pixel, farther: loses
        [0.0, 0.0, 0.5],  # closer than min_dist: dropped
        [-3.6, 0.0, 5.0],  # u = 0.8: outside 1 < u (dropped)
        [0.34, 0.12, 2.0],  # u = 9.7, v = 5.1
    ])
    depth = rasterize_depth(points, K, 16, 9, min_dist=1.0, rounding="round")
    expected = np.zeros((9, 16), np.float32)
    expected[5, 8] = 5.0  # row floor(4.5 + 0.5) = 5, column floor(8 + 0.5) = 8
    expected[5, 10] = 2.0  # row floor(5.1 + 0.5) = 5, column floor(9.7 + 0.5) = 10
    np.testing.assert_array_equal(depth, expected)
    floor = rasterize_depth(points, K, 16, 9, min_dist=1.0, rounding="floor")
    assert floor[4, 8] == 5.0 and floor[5, 9] == 2.0 and np.count_nonzero(floor) == 2  # floor(v), floor(u)
    assert np.count_nonzero(rasterize_depth(points, K, 16, 9, min_dist=0.1)) == 2  # 0.5 m point shares (5, 8)
    assert rasterize_depth(points, K, 16, 9, min_dist=0.1)[5, 8] == 0.5


def test_tables(tmp_path):
    write_table(tmp_path, "scene", [{"token": "a", "name": "scene-0001"}])
    assert load_table(tmp_path, "scene")[0]["name"] == "scene-0001"
    (tmp_path / "sample.json").write_text("[{\"no_token\": 1}]")
    with pytest.raises(DatasetError, match="token"):
        load_table(tmp_path, "sample")
    (tmp_path / "ego_pose.json").write_text("[{")
    with pytest.raises(DatasetError, match="ego_pose.json: not a valid JSON"):
        load_table(tmp_path, "ego_pose")
    with pytest.raises(DatasetError, match="sensor.json: nuScenes table not found"):
        load_table(tmp_path, "sensor")
