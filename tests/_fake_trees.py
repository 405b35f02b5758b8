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
