"""Builders of small fake dataset releases in their official on-disk layouts (for tests).

Each ``make_<dataset>_tree(root, ...)`` writes a few small samples with dpbench's own writers
and returns the *truth* the files encode (raw GT values, calibration numbers, masks) keyed by
the sample id the adapter should produce, so that a test can compute the expected depth,
validity and focal length itself, independently of the adapter's code path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dpbench.io.image import write_image


def random_rgb(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


# --------------------------------------------------------------------------------------------
# Booster: train/balanced/<Scene>/{camera_00/im<N>.png, disp_00.npy, mask_00.png, calib_00-02.xml}
def make_booster_tree(root: Path, rng: np.random.Generator, scenes: dict[str, int] | None = None,
                      size: tuple[int, int] = (6, 8), baseline_in_xml: bool = True) -> dict[str, dict]:
    from dpbench.io.booster import write_booster_calib, write_booster_disparity

    scenes = scenes if scenes is not None else {"Bathroom": 2, "Kitchen": 1}
    height, width = size
    truth: dict[str, dict] = {}
    for number, (scene, count) in enumerate(scenes.items()):
        folder = root / "train" / "balanced" / scene
        fx_rect, fx_raw, baseline = 5000.0 + 10 * number, 4990.0 - number, 78.5 + number
        # off-centre principal points, different per matrix (the intrinsics tests tell them apart)
        mtx = np.array([[fx_raw, 0, width / 2 + 0.3], [0, fx_raw + 1, height / 2 - 0.2], [0, 0, 1]])
        proj_l = np.array([[fx_rect, 0, width / 2 - 0.7, 0], [0, fx_rect, height / 2 + 0.4, 0], [0, 0, 1, 0]])
        proj_r = proj_l.copy()
        proj_r[0, 3] = -fx_rect * baseline
        write_booster_calib(folder / "calib_00-02.xml", mtx, proj_l, proj_r,
                            baseline if baseline_in_xml else None)
        disparity = rng.uniform(50, 900, size=size).astype(np.float32)
        disparity[0, :2] = 0  # no GT
        write_booster_disparity(folder / "disp_00.npy", disparity)
        mask = np.full(size, 255, np.uint8)
        mask[-1, -1] = 0
        mask[-1, 0] = 128
        _write_grey(folder / "mask_00.png", mask)
        for index in range(count):
            image = random_rgb(rng, height, width)
            write_image(folder / "camera_00" / f"im{index}.png", image)
            write_image(folder / "camera_02" / f"im{index}.png", image)
            truth[f"{scene}/im{index}"] = dict(image=image, disparity=disparity, mask=mask, fx_rect=fx_rect,
                                               fx_raw=fx_raw, baseline_mm=baseline, scene=scene,
                                               mtxL=mtx, proj_matL=proj_l)
    return truth


def _write_grey(path: Path, array: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", array)
    assert ok
    path.write_bytes(encoded.tobytes())


# --------------------------------------------------------------------------------------------
# Middlebury: MiddEval3 training<R>/<Scene>/{im0.png, im1.png, disp0GT.pfm, mask0nocc.png, calib.txt}
def make_middlebury_tree(root: Path, rng: np.random.Generator, scenes=("Adirondack", "ArtL"),
                         resolutions=("F",), size=(6, 8), perfect=()) -> dict[str, dict]:
    from dpbench.io.middlebury import MiddleburyCalib, write_calib
    from dpbench.io.pfm import write_pfm

    truth: dict[str, dict] = {}
    height, width = size

    def scene_files(folder: Path, number: int, gt_name: str, with_mask: bool) -> dict:
        f, doffs, baseline = 3000.0 + 100 * number, 120.5 + number, 170.25 + number
        calib = MiddleburyCalib(
            cam0=np.array([[f, 0, width / 2 + 0.25], [0, f, height / 2 - 0.5], [0, 0, 1]]),
            cam1=np.array([[f, 0, width / 2 + doffs], [0, f, height / 2], [0, 0, 1]]),
            doffs=doffs, baseline=baseline, width=width, height=height, ndisp=300, isint=0, vmin=10, vmax=280,
        )
        write_calib(folder / "calib.txt", calib)
        disparity = rng.uniform(20, 280, size=(height, width)).astype(np.float32)
        disparity[0, 0] = np.inf
        write_pfm(folder / gt_name, disparity)
        image = random_rgb(rng, height, width)
        write_image(folder / "im0.png", image)
        write_image(folder / "im1.png", random_rgb(rng, height, width))
        mask = np.full((height, width), 255, np.uint8)
        mask[1, 1] = 128
        mask[0, 0] = 0
        if with_mask:
            _write_grey(folder / "mask0nocc.png", mask)
        return dict(image=image, disparity=disparity, mask=mask, f=f, doffs=doffs, baseline=baseline, scene=folder.name,
                    cam0=calib.cam0)

    for res in resolutions:
        for number, scene in enumerate(scenes):
            t = scene_files(root / f"training{res}" / scene, number + 10 * "FHQ".index(res), "disp0GT.pfm", True)
            truth[f"{res}:{scene}"] = t
    for number, scene in enumerate(perfect):
        truth[f"2014/{scene}-perfect"] = scene_files(root / f"{scene}-perfect", 50 + number, "disp0.pfm", False)
    return truth


# --------------------------------------------------------------------------------------------
# Sintel: training/{final,clean}/<scene>/frame_XXXX.png, training/{depth,camdata_left}/<scene>/...
def make_sintel_tree(root: Path, rng: np.random.Generator, scenes: dict[str, int] | None = None,
                     size=(4, 10), separate_archives: bool = False) -> dict[str, dict]:
    from dpbench.io.sintel import write_cam, write_dpt

    scenes = scenes if scenes is not None else {"alley_1": 2, "market_2": 1}
    image_root = root / "MPI-Sintel-complete" if separate_archives else root
    depth_root = root / "MPI-Sintel-depth-training-20150305" if separate_archives else root
    height, width = size
    truth = {}
    for number, (scene, count) in enumerate(scenes.items()):
        for frame in range(1, count + 1):
            name = f"frame_{frame:04d}"
            depth = rng.uniform(0.5, 60, size=size).astype(np.float32)
            depth[0, 0] = 1e5  # sky: huge finite value
            K = np.array([[1120.0 + number, 0, width / 2], [0, 1120.0 + number, height / 2], [0, 0, 1]])
            N = np.hstack([np.eye(3), rng.normal(size=(3, 1))])
            write_dpt(depth_root / "training" / "depth" / scene / f"{name}.dpt", depth)
            write_cam(depth_root / "training" / "camdata_left" / scene / f"{name}.cam", K, N)
            images = {}
            for pass_name in ("final", "clean"):
                images[pass_name] = random_rgb(rng, height, width)
                write_image(image_root / "training" / pass_name / scene / f"{name}.png", images[pass_name])
            truth[f"{scene}/{name}"] = dict(depth=depth, K=K, images=images, scene=scene)
    return truth


# --------------------------------------------------------------------------------------------
# SUN RGB-D: SUNRGBD/<sensor>/.../<frame>/{image,depth,depth_bfx,intrinsics.txt} + toolbox allsplit.mat
SUNRGBD_FRAMES = {
    "kv2/kinect2data/000065_2014-05-16_20-14-38_260595134347_rgbf000121-resize": ("test", (5, 7), 529.5),
    "kv1/NYUdata/NYU0001": ("test", (4, 6), 518.857901),
    "xtion/sun3ddata/mit_32_d507/d507_2/mit_32_d507_2014_09_21_1": ("train", (4, 5), 570.342205),
    "realsense/lg/2014_10_24-14_31_21-1311000073": ("test", (6, 4), 693.744),
}


def make_sunrgbd_tree(root: Path, rng: np.random.Generator, frames: dict | None = None) -> dict[str, dict]:
    from dpbench.io.sunrgbd import write_allsplit, write_depth_png, write_intrinsics

    frames = frames if frames is not None else SUNRGBD_FRAMES
    truth, split = {}, {"train": [], "test": []}
    for rel, (which, (height, width), fx) in frames.items():
        folder = root / "SUNRGBD" / rel
        name = rel.split("/")[-1][:12]
        image = random_rgb(rng, height, width)
        write_image(folder / "image" / f"{name}.jpg", image, quality=100)
        depth_mm = {key: rng.integers(300, 8000, size=(height, width)) for key in ("depth", "depth_bfx")}
        depth_mm["depth"][0, 0] = 0
        for key, mm in depth_mm.items():
            write_depth_png(folder / key / f"{name}.png", mm / 1000.0)
        K = np.array([[fx, 0, width / 2 + 0.5], [0, fx + 1, height / 2 - 0.25], [0, 0, 1]])
        write_intrinsics(folder / "intrinsics.txt", K)
        split[which].append(f"/n/fs/sun3d/data/SUNRGBD/{rel}/")
        truth[rel] = dict(image_path=folder / "image" / f"{name}.jpg", depth_mm=depth_mm, fx=fx, split=which)
    write_allsplit(root / "SUNRGBDtoolbox" / "traintestSUNRGBD" / "allsplit.mat", split["train"], split["test"])
    return truth


# --------------------------------------------------------------------------------------------
# ETH3D: <scene>/{images/dslr_images, ground_truth_depth/dslr_images, dslr_calibration_jpg, ...undistorted}
def make_eth3d_tree(root: Path, rng: np.random.Generator, scenes: dict[str, int] | None = None,
                    size=(4, 6), orientations: dict[str, int] | None = None,
                    exif_f35: float | None = None) -> dict[str, dict]:
    from dpbench.io.colmap import ColmapCamera, ColmapImage, write_cameras_txt, write_images_txt
    from dpbench.io.eth3d import write_depth

    scenes = scenes if scenes is not None else {"courtyard": 2, "pipes": 1}
    orientations = orientations or {}
    height, width = size
    truth = {}
    for number, (scene, count) in enumerate(scenes.items()):
        folder = root / scene
        fx, fy = 3411.42 / 1000 * width + number, 3410.02 / 1000 * width + number
        distorted = ColmapCamera(number + 1, "THIN_PRISM_FISHEYE", width, height,
                                 (fx, fy, width / 2 + 0.3, height / 2 - 0.2, 0.01, -0.002, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
        undist_w, undist_h = width + 2, height + 2
        pinhole = ColmapCamera(number + 1, "PINHOLE", undist_w, undist_h,
                               (fx * 0.99, fy * 0.99, undist_w / 2 + 0.1, undist_h / 2 - 0.4))
        images, images_u = [], []
        for index in range(count):
            name = f"DSC_{100 * number + index:04d}.JPG"
            image = random_rgb(rng, height, width)
            orientation = orientations.get(f"{scene}/{name[:-4]}", 1)
            exif = None
            if orientation != 1 or exif_f35 is not None:
                from dpbench.io.exif import make_exif

                exif = make_exif(f35=exif_f35, orientation=orientation if orientation != 1 else None)
            write_image(folder / "images" / "dslr_images" / name, image, exif=exif, quality=100)
            depth = rng.uniform(0.5, 150, size=size).astype(np.float32)
            depth[0, 1] = np.inf
            write_depth(folder / "ground_truth_depth" / "dslr_images" / name, depth)
            points = np.array([[10.5, 20.25, 7], [1.0, 2.0, -1]]) if index % 2 else np.zeros((0, 3))
            images.append(ColmapImage(index + 1, (1, 0, 0, 0), (0, 0, 0), distorted.camera_id,
                                      f"dslr_images/{name}", points))
            images_u.append(ColmapImage(index + 1, (1, 0, 0, 0), (0, 0, 0), pinhole.camera_id,
                                        f"dslr_images_undistorted/{name}"))
            truth[f"{scene}/{name[:-4]}"] = dict(image_path=folder / "images" / "dslr_images" / name, depth=depth,
                                                 fx=fx, fy=fy, orientation=orientation, pinhole=pinhole,
                                                 distorted=distorted,
                                                 size=(height, width))
        write_cameras_txt(folder / "dslr_calibration_jpg" / "cameras.txt", [distorted])
        write_images_txt(folder / "dslr_calibration_jpg" / "images.txt", images)
        write_cameras_txt(folder / "dslr_calibration_undistorted" / "cameras.txt", [pinhole])
        write_images_txt(folder / "dslr_calibration_undistorted" / "images.txt", images_u)
    return truth


# --------------------------------------------------------------------------------------------
# nuScenes: <root>/v1.0-<x>/*.json + samples/{CAM_*/*.jpg, LIDAR_TOP/*.pcd.bin}
def _quat_wxyz(matrix: np.ndarray) -> list[float]:
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(matrix).as_quat()
    return [float(w), float(x), float(y), float(z)]


def _yaw(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def make_nuscenes_tree(root: Path, rng: np.random.Generator, scenes: dict[str, int] | None = None,
                       size=(9, 16), version: str = "v1.0-trainval", points: int = 400) -> dict[str, dict]:
    """Scenes {name: n_samples}; cameras CAM_FRONT and CAM_BACK plus LIDAR_TOP; one sweep per scene."""
    from dpbench.io.nuscenes import write_pcd_bin, write_table

    scenes = scenes if scenes is not None else {"scene-0003": 2, "scene-0001": 1}
    height, width = size
    tables: dict[str, list] = {k: [] for k in ("scene", "sample", "sample_data", "calibrated_sensor", "ego_pose", "sensor", "log")}
    cam_to_ego = np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])  # camera z forward = ego x
    sensors = {
        "CAM_FRONT": (cam_to_ego @ _yaw(0.02), [1.7, 0.01, 1.5], "camera"),
        "CAM_BACK": (_yaw(np.pi) @ cam_to_ego, [-1.0, 0.0, 1.5], "camera"),
        "LIDAR_TOP": (_yaw(-np.pi / 2 + 0.01), [0.94, 0.0, 1.84], "lidar"),
    }
    K = [[10.0, 0.0, width / 2], [0.0, 10.0, height / 2], [0.0, 0.0, 1.0]]
    calib_tokens = {}
    for channel, (rotation, translation, modality) in sensors.items():
        sensor_token = f"sensor-{channel}"
        tables["sensor"].append({"token": sensor_token, "channel": channel, "modality": modality})
        calib_tokens[channel] = f"calib-{channel}"
        tables["calibrated_sensor"].append({
            "token": calib_tokens[channel], "sensor_token": sensor_token, "translation": translation,
            "rotation": _quat_wxyz(rotation), "camera_intrinsic": K if modality == "camera" else []})
    truth: dict[str, dict] = {}
    counter = 0
    for scene_number, (scene, count) in enumerate(scenes.items()):
        scene_token = f"scene-token-{scene_number}"
        sample_tokens = [f"sample-{scene_number}-{i}" for i in range(count)]
        tables["scene"].append({"token": scene_token, "name": scene, "description": "", "log_token": "log-0",
                                "nbr_samples": count, "first_sample_token": sample_tokens[0],
                                "last_sample_token": sample_tokens[-1]})
        for i, sample_token in enumerate(sample_tokens):
            timestamp = 1_532_402_927_647_951 + 500_000 * (counter + i)
            tables["sample"].append({"token": sample_token, "timestamp": timestamp, "scene_token": scene_token,
                                     "prev": sample_tokens[i - 1] if i else "",
                                     "next": sample_tokens[i + 1] if i + 1 < count else ""})
            poses = {}
            for channel, (_, _, modality) in sensors.items():
                ego_token = f"ego-{sample_token}-{channel}"
                ego_rot = _yaw(0.3 * scene_number + 0.05 * i + (0.004 if modality == "camera" else 0.0))
                ego_trans = [100.0 + 5 * i + (0.3 if modality == "camera" else 0.0), 50.0 - scene_number, 0.0]
                tables["ego_pose"].append({"token": ego_token, "timestamp": timestamp, "rotation": _quat_wxyz(ego_rot),
                                           "translation": ego_trans})
                poses[channel] = (ego_rot, np.array(ego_trans))
                folder = "samples"
                suffix = "jpg" if modality == "camera" else "pcd.bin"
                filename = f"{folder}/{channel}/n015-{scene}-{i}__{channel}__{timestamp}.{suffix}"
                tables["sample_data"].append({
                    "token": f"sd-{sample_token}-{channel}", "sample_token": sample_token, "ego_pose_token": ego_token,
                    "calibrated_sensor_token": calib_tokens[channel], "filename": filename,
                    "fileformat": "jpg" if modality == "camera" else "pcd", "is_key_frame": True,
                    "width": width if modality == "camera" else 0, "height": height if modality == "camera" else 0,
                    "timestamp": timestamp, "prev": "", "next": ""})
                if modality == "camera":
                    image = random_rgb(rng, height, width)
                    write_image(root / filename, image, quality=100)
                else:
                    lidar_points = np.column_stack([
                        rng.uniform(-12, 12, points), rng.uniform(-30, 30, points), rng.uniform(-2, 1.5, points),
                        rng.uniform(0, 100, points), rng.integers(0, 32, points)]).astype(np.float32)
                    # a duplicate ray (same pixel, farther) to test "nearest wins"
                    lidar_points[1, :3] = lidar_points[0, :3] * 1.5
                    write_pcd_bin(root / filename, lidar_points)
                    lidar_file = root / filename
            # a non-keyframe sweep that must be ignored
            tables["sample_data"].append({
                "token": f"sweep-{sample_token}", "sample_token": sample_token, "ego_pose_token": f"ego-{sample_token}-CAM_FRONT",
                "calibrated_sensor_token": calib_tokens["CAM_FRONT"], "filename": f"sweeps/CAM_FRONT/x{i}.jpg",
                "fileformat": "jpg", "is_key_frame": False, "width": width, "height": height, "timestamp": timestamp + 1,
                "prev": "", "next": ""})
            for camera in ("CAM_FRONT", "CAM_BACK"):
                truth[f"{scene}/{camera}/{sample_token}"] = dict(
                    scene=scene, camera=camera, lidar_file=lidar_file, K=np.array(K),
                    image_file=root / f"samples/{camera}/n015-{scene}-{i}__{camera}__{timestamp}.jpg",
                    lidar_sensor=sensors["LIDAR_TOP"][:2], camera_sensor=sensors[camera][:2],
                    lidar_ego=poses["LIDAR_TOP"], camera_ego=poses[camera], size=size)
        counter += count
    tables["log"].append({"token": "log-0", "logfile": "n015", "vehicle": "n015", "date_captured": "2018-07-24",
                          "location": "singapore-onenorth"})
    for name, records in tables.items():
        write_table(root / version, name, records)
    return truth


# --------------------------------------------------------------------------------------------
# Spring: train/<NNNN>/{frame_left, disp1_left (2x), cam_data/intrinsics.txt, maps/skymap_left}
def make_spring_tree(root: Path, rng: np.random.Generator, scenes: dict[str, int] | None = None,
                     size=(4, 6)) -> dict[str, dict]:
    from dpbench.io.spring import write_dsp5, write_intrinsics

    scenes = scenes if scenes is not None else {"0001": 2, "0004": 1}
    height, width = size
    truth = {}
    for number, (scene, count) in enumerate(scenes.items()):
        folder = root / "train" / scene
        intrinsics = np.array([[2181.82 / 320 * width + number + f, 2181.82, width / 2, height / 2] for f in range(count)])
        write_intrinsics(folder / "cam_data" / "intrinsics.txt", intrinsics)
        (folder / "cam_data" / "extrinsics.txt").write_text("".join("1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1\n" for _ in range(count)))
        for frame in range(1, count + 1):
            for cam in ("left", "right"):
                image = random_rgb(rng, height, width)
                write_image(folder / f"frame_{cam}" / f"frame_{cam}_{frame:04d}.png", image)
                disparity = rng.uniform(0.5, 40, size=(2 * height, 2 * width)).astype(np.float32)
                disparity[0, 0] = 0.0  # maps to pixel (0, 0): invalid
                disparity[2, 4] = np.nan  # maps to pixel (1, 2): invalid
                disparity[1, 1] = -5.0  # odd row/column: dropped by the [::2, ::2] subsampling
                write_dsp5(folder / f"disp1_{cam}" / f"disp1_{cam}_{frame:04d}.dsp5", disparity)
                sky = np.zeros(size, np.uint8)
                sky[0, -1] = 255
                _write_grey(folder / "maps" / f"skymap_{cam}" / f"skymap_{cam}_{frame:04d}.png", sky)
                truth[f"{cam}:{scene}/{frame:04d}"] = dict(image=image, disparity=disparity, fx=intrinsics[frame - 1, 0], sky=sky)
    return truth


# --------------------------------------------------------------------------------------------
# iBims-1: ibims1_core_raw/{rgb,depth,mask_invalid,mask_transp}/<name>.png, calib/<name>.txt
def make_ibims_tree(root: Path, rng: np.random.Generator, names=("corridor_01", "office_03"), size=(4, 5),
                    image_list: bool = True) -> dict[str, dict]:
    from dpbench.io.ibims import write_calib
    from dpbench.io.png16 import write_png16

    core = root / "ibims1_core_raw"
    truth = {}
    for number, name in enumerate(names):
        image = random_rgb(rng, *size)
        write_image(core / "rgb" / f"{name}.png", image)
        raw = rng.integers(0, 65536, size=size, dtype=np.uint16)
        raw[0, 0] = 0
        write_png16(core / "depth" / f"{name}.png", raw)
        invalid = np.full(size, 255, np.uint8)
        invalid[1, 1] = 0
        transp = np.full(size, 255, np.uint8)
        transp[2, 2] = 0
        _write_grey(core / "mask_invalid" / f"{name}.png", invalid)
        _write_grey(core / "mask_transp" / f"{name}.png", transp)
        fx = 559.62 + number
        write_calib(core / "calib" / f"{name}.txt", fx, fx + 1, 320.5, 240.25)
        truth[name] = dict(image=image, raw=raw, invalid=invalid, transp=transp, fx=fx)
    if image_list:
        (root / "imagelist.txt").write_text("".join(f"{n}\n" for n in reversed(names)))
    return truth


# --------------------------------------------------------------------------------------------
# HyperSim: ai_VVV_NNN/images/scene_cam_XX_{final_preview,geometry_hdf5}/frame.IIII.* + split CSV
def make_hypersim_tree(root: Path, rng: np.random.Generator, size=(6, 8),
                       frames=(("ai_001_001", "cam_00", 0, "val"), ("ai_001_001", "cam_00", 3, "val"),
                               ("ai_002_004", "cam_01", 1, "test"), ("ai_003_001", "cam_00", 2, "train"))) -> dict:
    from dpbench.io.hypersim import write_hdf5

    truth = {}
    rows = ["scene_name,camera_name,frame_id,included_in_public_release,exclude_reason,split_partition_name"]
    for scene, camera, frame, split in frames:
        images = root / scene / "images"
        image = random_rgb(rng, *size)
        write_image(images / f"scene_{camera}_final_preview" / f"frame.{frame:04d}.tonemap.jpg", image, quality=100)
        distance = rng.uniform(0.5, 20, size=size).astype(np.float16)
        distance[0, 0] = np.nan
        write_hdf5(images / f"scene_{camera}_geometry_hdf5" / f"frame.{frame:04d}.depth_meters.hdf5", distance)
        entity = np.ones(size, np.int32)
        entity[1, 1] = -1
        write_hdf5(images / f"scene_{camera}_geometry_hdf5" / f"frame.{frame:04d}.render_entity_id.hdf5", entity)
        rows.append(f"{scene},{camera},{frame},True,,{split}")
        truth[f"{scene}/{camera}/{frame:04d}"] = dict(image_path=images / f"scene_{camera}_final_preview" / f"frame.{frame:04d}.tonemap.jpg",
                                                      distance=distance, entity=entity, split=split)
    rows.append("ai_009_009,cam_00,0,False,some reason,val")  # not in the public release: ignored
    (root / "metadata_images_split_scene_v1.csv").write_text("\n".join(rows) + "\n")
    return truth


# --------------------------------------------------------------------------------------------
# NYUv2: nyu_depth_v2_labeled.mat (HDF5) + splits.mat, or the PNG export
def make_nyu_mat_tree(root: Path, rng: np.random.Generator, count: int = 5, test=(2, 5)) -> dict:
    from dpbench.io.nyu import write_labeled, write_splits

    images = rng.integers(0, 256, size=(count, 480, 640, 3), dtype=np.uint8)
    depths = rng.uniform(0.5, 9.5, size=(count, 480, 640)).astype(np.float32)
    raw = depths.copy()
    raw[:, 100:110, 200:210] = 0
    write_labeled(root / "nyu_depth_v2_labeled.mat", images, depths, raw)
    write_splits(root / "splits.mat", [i for i in range(1, count + 1) if i not in test], list(test))
    return dict(images=images, depths=depths, raw=raw, test=list(test))


def make_nyu_png_tree(root: Path, rng: np.random.Generator) -> dict:
    from dpbench.io.png16 import write_png16

    truth = {}
    for folder, scene, number in (("test", "bathroom", "0001"), ("test", "kitchen", "0045"), ("train", "office", "0003")):
        image = random_rgb(rng, 480, 640)
        write_image(root / folder / scene / f"rgb_{number}.png", image)
        mm = rng.integers(0, 10000, size=(480, 640), dtype=np.uint16)
        filled = np.maximum(mm, 500).astype(np.uint16)
        write_png16(root / folder / scene / f"depth_{number}.png", mm)
        write_png16(root / folder / scene / f"filled_{number}.png", filled)
        truth[f"{scene}/{number}"] = dict(image=image, mm=mm, filled=filled, folder=folder)
    return truth


# --------------------------------------------------------------------------------------------
# KITTI: raw drives + calib_cam_to_cam.txt + data_depth_annotated/{train,val}
def make_kitti_tree(root: Path, rng: np.random.Generator, size=(10, 24)) -> dict:
    from dpbench.io.kitti import write_calib_file
    from dpbench.io.png16 import write_png16

    drives = {"2011_09_26/2011_09_26_drive_0002_sync": ("val", ["0000000005", "0000000069"]),
              "2011_09_26/2011_09_26_drive_0009_sync": ("train", ["0000000016"]),
              "2011_10_03/2011_10_03_drive_0047_sync": ("val", ["0000000000"])}
    focal = {"2011_09_26": 721.5377, "2011_10_03": 718.856}
    truth = {}
    for date, fx in focal.items():
        P = np.array([[fx, 0, 609.5593, 44.85728], [0, fx, 172.854, 0.2163791], [0, 0, 1, 0.002745884]])
        write_calib_file(root / date / "calib_cam_to_cam.txt",
                         {"calib_time": "09-Jan-2012 13:57:47", "P_rect_00": P * 0 + 1, "P_rect_02": P})
    for drive, (part, frames) in drives.items():
        for frame in frames:
            image = random_rgb(rng, *size)
            write_image(root / drive / "image_02" / "data" / f"{frame}.png", image)
            raw = rng.integers(0, 80 * 256, size=size, dtype=np.uint16)
            raw[rng.random(size) < 0.5] = 0
            gt = root / "data_depth_annotated" / part / drive.split("/")[1] / "proj_depth" / "groundtruth" / "image_02" / f"{frame}.png"
            write_png16(gt, raw)
            truth[f"{drive.split('/')[1]}/{frame}"] = dict(image=image, raw=raw, fx=focal[drive[:10]], part=part)
    # an Eigen-list frame whose image exists but that has no improved GT
    write_image(root / "2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000001.png", random_rgb(rng, *size))
    lines = ["2011_09_26/2011_09_26_drive_0002_sync 5 l", "2011_09_26/2011_09_26_drive_0002_sync 1 l",
             "2011_10_03/2011_10_03_drive_0047_sync 0 l", "2011_09_26/2011_09_26_drive_0009_sync 16 l"]
    (root / "eigen_test_files.txt").write_text("\n".join(lines) + "\n")
    return truth


# --------------------------------------------------------------------------------------------
# DIODE: val/{indoors,outdoors}/scene_X/scan_Y/<id>.png + _depth.npy + _depth_mask.npy
def make_diode_tree(root: Path, rng: np.random.Generator, size=(4, 6)) -> dict:
    from dpbench.io.diode import write_depth, write_mask

    truth = {}
    for kind, scene, scan, index in (("indoors", "00019", "00183", "000"), ("outdoors", "00022", "00194", "010"),
                                     ("indoors", "00020", "00184", "020")):
        folder = root / "val" / kind / f"scene_{scene}" / f"scan_{scan}"
        name = f"{scene}_{scan}_{kind}_{index}_010"
        image = random_rgb(rng, *size)
        write_image(folder / f"{name}.png", image)
        depth = rng.uniform(0.6, 300, size=size).astype(np.float32)
        mask = rng.random(size) > 0.3
        depth[~mask] = 0
        write_depth(folder / f"{name}_depth.npy", depth)
        write_mask(folder / f"{name}_depth_mask.npy", mask)
        truth[f"{kind}/scene_{scene}/scan_{scan}/{name}"] = dict(image=image, depth=depth, mask=mask)
    return truth


# --------------------------------------------------------------------------------------------
# A fixed datasets folder (DPBENCH_DATASETS_DIR) + trees, whose protocol hashes and nuScenes
# subset draw are pinned by tests/test_datasets_spec.py. Everything here is frozen: the pinned
# values were computed with the code before the Dataset.protocol -> Dataset.spec rename, so any
# change to these files or trees changes the expected values.
PINNED_SPECS = {
    "booster.toml": '''name = "booster"
task = "metric_depth"
version = 1
default_split = "train"
min_depth = 0.001
max_depth = 10.0
expected_samples = 3
layout = "<root>/train/balanced/<Scene>/{camera_00/im<N>.png, disp_00.npy, mask_00.png, calib_00-02.xml}"

[splits.train]
expected = 3

[choices.fx_source]
default = "proj_matL"
options = ["proj_matL", "mtxL"]

[choices.mask]
default = "nonzero"
options = ["nonzero", "255", "none"]
''',
    "am2k.toml": '''name = "am2k"
task = "boundary_mask"
version = 1
default_split = "validation"
layout = "<root>/validation/original/*.jpg with <root>/validation/mask/*.png"

[splits.validation]
layouts = [{ images = "validation/original", masks = "validation/mask" }]
expected = 2
''',
    "exif_folder.toml": '''name = "exif_folder"
task = "focal"
version = 1
default_split = "all"
layout = "<root>/**/*.jpg with EXIF"
suffixes = [".jpg"]

[sensor_width_mm]
"ACME One" = 6.4
''',
    "nuscenes.toml": '''name = "nuscenes"
task = "metric_depth"
version = 1
default_split = "val"
min_depth = 0.001
max_depth = 80.0
layout = "<root>/v1.0-trainval/*.json + <root>/samples/"
table_folders = ["v1.0-trainval"]
val_scenes_file = "pinned_val_scenes.txt"
subset_size = 4
subset_seed = 42
subset_order = "scene_timestamp"

[splits.val]
[splits.val_881]
[splits.mini_val]

[choices.cameras]
default = ["CAM_FRONT"]
options = ["CAM_FRONT", "CAM_BACK"]

[choices.min_dist]
default = 1.0

[choices.rounding]
default = "round"
options = ["round", "floor"]
''',
    "pinned_val_scenes.txt": "scene-0002\nscene-0005\nscene-0009\n",
}
#: Scenes of the pinned nuScenes tree: tokens ("sample-<scene index>-<i>") sort differently from
#: the (scene name, timestamp) order, so the pinned draw also pins the ordering before the draw.
PINNED_NUSCENES_SCENES = {"scene-0005": 3, "scene-0002": 4, "scene-0009": 2}


def make_pinned_fixture(base: Path) -> dict[str, Path]:
    """Write the pinned datasets folder and one tree per dataset under ``base``.

    Returns {"datasets": the folder to use as $DPBENCH_DATASETS_DIR, <dataset>: its root}.
    """
    from PIL import Image

    from dpbench.io.exif import make_exif

    specs = base / "datasets"
    specs.mkdir(parents=True)
    for name, text in PINNED_SPECS.items():
        (specs / name).write_text(text)
    rng = np.random.default_rng(2024)
    roots = {"datasets": specs}
    roots["booster"] = base / "booster"
    make_booster_tree(roots["booster"], rng)
    roots["am2k"] = base / "am2k"
    for stem in ("m_b", "m_a"):
        (roots["am2k"] / "validation" / "original").mkdir(parents=True, exist_ok=True)
        (roots["am2k"] / "validation" / "mask").mkdir(parents=True, exist_ok=True)
        write_image(roots["am2k"] / "validation" / "original" / f"{stem}.jpg", random_rgb(rng, 4, 6))
        Image.fromarray(np.full((4, 6), 255, np.uint8)).save(roots["am2k"] / "validation" / "mask" / f"{stem}.png")
    roots["exif_folder"] = base / "exif"
    for relative, exif in (("b/two.jpg", make_exif(f35=50)), ("a/one.jpg", make_exif(f_mm=4.0, model="ACME One")),
                           ("c/none.jpg", make_exif())):
        path = roots["exif_folder"] / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(random_rgb(rng, 6, 9)).save(path, format="JPEG", exif=exif)
    roots["nuscenes"] = base / "nuscenes"
    make_nuscenes_tree(roots["nuscenes"], rng, scenes=PINNED_NUSCENES_SCENES)
    return roots
