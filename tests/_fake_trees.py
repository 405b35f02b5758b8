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
        mtx = np.array([[fx_raw, 0, width / 2], [0, fx_raw, height / 2], [0, 0, 1]])
        proj_l = np.array([[fx_rect, 0, width / 2, 0], [0, fx_rect, height / 2, 0], [0, 0, 1, 0]])
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
                                               fx_raw=fx_raw, baseline_mm=baseline, scene=scene)
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
            cam0=np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]]),
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
        return dict(image=image, disparity=disparity, mask=mask, f=f, doffs=doffs, baseline=baseline, scene=folder.name)

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
                                 (fx, fy, width / 2, height / 2, 0.01, -0.002, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
        undist_w, undist_h = width + 2, height + 2
        pinhole = ColmapCamera(number + 1, "PINHOLE", undist_w, undist_h, (fx * 0.99, fy * 0.99, undist_w / 2, undist_h / 2))
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
                                                 size=(height, width))
        write_cameras_txt(folder / "dslr_calibration_jpg" / "cameras.txt", [distorted])
        write_images_txt(folder / "dslr_calibration_jpg" / "images.txt", images)
        write_cameras_txt(folder / "dslr_calibration_undistorted" / "cameras.txt", [pinhole])
        write_images_txt(folder / "dslr_calibration_undistorted" / "images.txt", images_u)
    return truth
