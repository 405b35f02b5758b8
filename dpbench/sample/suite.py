"""The bundled sample suite: procedural scenes written in the official on-disk formats of real datasets.

``generate_sample_suite(out)`` renders a few tens of small scenes (:mod:`dpbench.sample.scenes`)
and writes them as:

============  ===================================================================  ==================
folder        layout (the real dataset's)                                          tasks
============  ===================================================================  ==================
middlebury    ``MiddEval3/trainingF/<Scene>/{im0,im1}.png, disp0GT.pfm,            depth, boundary F1
              mask0nocc.png, calib.txt``
sintel        ``training/{final,clean}/<scene>/frame_XXXX.png``,                   depth, boundary F1
              ``training/depth/…dpt``, ``training/camdata_left/…cam``
booster       ``train/balanced/<Scene>/camera_00/imN.png, camera_02/imN.png,       depth, boundary F1
              disp_00.npy, mask_00.png, mask_cat.png, calib_00-02.xml``
sunrgbd       ``SUNRGBD/kv2/kinect2data/<frame>/{image,depth,depth_bfx}/…,         depth, boundary F1
              intrinsics.txt`` + ``SUNRGBDtoolbox/traintestSUNRGBD/allsplit.mat``
am2k          ``AM-2k/validation/{original,mask,trimap}/m_<id>.{jpg,png}``         boundary recall
dis5k         ``DIS5K/DIS-VD/{im,gt}/<name>.{jpg,png}`` (names with ``#``/spaces)  boundary recall
exif          ``<name>.jpg`` with EXIF FocalLengthIn35mmFilm (some rotated)        focal
============  ===================================================================  ==================

and a manifest ``suite.json`` naming each folder's registry name, split and tasks.

Ground truth is exact up to each format's own precision, through the real adapters:
PFM / .npy / .dpt store float32 (depth from a float32 disparity: relative error < 1e-6);
SUN RGB-D stores whole millimetres (|error| ≤ 0.5 mm; the raw ``depth/`` folder also has
Kinect-like holes where a projector 7.5 cm to the right would be occluded, ``depth_bfx/`` has
none); Sintel marks sky as 1e5 m (its convention for "infinitely far"). The EXIF focal is exact
because every camera's focal is chosen from an integer 35 mm-equivalent value by the same
diagonal rule the reader applies. The renderer's pixel-centre ray gives the GT depth, so the
depth of a rendered plane is the analytic plane depth at that pixel centre.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from dpbench.errors import DatasetError
from dpbench.io.exif import make_exif
from dpbench.progress import progress
from dpbench.sample.render import (
    Camera,
    Light,
    Render,
    Scene,
    build_shadow_map,
    render,
    render_depth,
)
from dpbench.sample.scenes import build_room, build_street, camera_for

log = logging.getLogger(__name__)

FORMAT = "dpbench-sample/1"
#: Bump when the renderer or the writers change the bytes: cached suites are then regenerated.
GENERATOR_VERSION = 2  # 2: the depth folders list the pointcloud task
MANIFEST = "suite.json"
MARKER = ".dpbench-sample"  # written into every folder the suite owns (and may delete on overwrite)
SUPERSAMPLING = 3
DEFAULT_SEED = 0
DEFAULT_SCALE = 1.0
SINTEL_SKY_DEPTH = 1.0e5
EXIF_MAKE = "dpbench"
EXIF_MODEL = "sample-suite pinhole"

DEPTH_TASKS = ("metric_depth", "boundary_depth", "pointcloud")


# -- helpers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """One rendered sample: the adapter's name and sample id, and the scene, camera and render behind it."""

    dataset: str
    sample_id: str
    scene: Scene
    camera: Camera
    view: Render


class _Context:
    """Seeds, sizes and the list of files written (for the manifest)."""

    def __init__(self, root: Path, seed: int, scale: float, observer: Callable[[Rendered], None] | None = None):
        self.root = root
        self.seed = seed
        self.scale = scale
        self.observer = observer
        self.part = ""

    def record(self, sample_id: str, scene: Scene, camera: Camera, view: Render) -> None:
        """Hand what was rendered for one sample to the observer (used by the tests)."""
        if self.observer is not None:
            self.observer(Rendered(self.part, sample_id, scene, camera, view))

    def rng(self, part: str, index: int) -> np.random.Generator:
        """An independent, stable random stream per (part, item): adding items never reshuffles others."""
        key = int.from_bytes(hashlib.sha256(part.encode()).digest()[:4], "little")
        return np.random.default_rng([self.seed, key, index])

    def size(self, width: int, height: int) -> tuple[int, int]:
        """Base size × scale, rounded to even numbers (at least 32×32)."""
        def even(x: float) -> int:
            return max(32, int(round(x * self.scale / 2.0)) * 2)
        return even(width), even(height)

    def render_seed(self, part: str, index: int, view: int = 0) -> int:
        return int(self.rng(part, 1000 + index).integers(0, 2**31 - 1)) + view


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, optimize=False)


def _jpeg(path: Path, rgb: np.ndarray, exif: Image.Exif | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"exif": exif} if exif is not None else {}
    Image.fromarray(rgb).save(path, quality=92, subsampling=0, **kwargs)


def _f35(rng: np.random.Generator, low: int = 24, high: int = 35) -> int:
    return int(rng.integers(low, high + 1))


def _exif_for(f35: int, orientation: int | None = None) -> Image.Exif:
    return make_exif(f35=f35, make=EXIF_MAKE, model=EXIF_MODEL, orientation=orientation)


def occluded_in(left: Camera, left_depth: np.ndarray, right: Camera, right_depth: np.ndarray,
                tolerance: float = 0.01) -> np.ndarray:
    """Pixels of the left view whose 3-D point the right view does not see (or sees outside its frame)."""
    h, w = left_depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    finite = np.isfinite(left_depth)
    z = np.where(finite, left_depth, 1.0)
    cam = np.stack([(u - left.cx) / left.fx * z, (v - left.cy) / left.fy * z, z], axis=-1)
    world = cam.reshape(-1, 3) @ left.R + left.center
    ur, vr, zr = right.project(world)
    iu, iv = np.round(ur).astype(np.int64), np.round(vr).astype(np.int64)
    inside = (iu >= 1) & (iu < w - 1) & (iv >= 0) & (iv < h)
    seen = np.zeros(h * w, dtype=bool)
    rows = np.nonzero(inside)[0]
    # The nearest of three neighbouring right pixels decides (edges are sampled at pixel centres).
    farthest = np.max(np.stack([right_depth[iv[rows], iu[rows] + k] for k in (-1, 0, 1)]), axis=0)
    seen[rows] = zr[rows] <= farthest * (1.0 + tolerance)
    return ~seen.reshape(h, w) | ~finite


def _relight(scene: Scene, rng: np.random.Generator) -> Scene:
    """The same scene under another illumination (Booster's im0, im1, … of one scene)."""
    key = scene.lights[0]
    direction = np.asarray(key.direction, float) + rng.normal(0.0, 0.5, size=3) * np.array([1.0, 0.3, 0.5])
    direction[1] = abs(direction[1]) + 0.4
    colour = np.asarray(key.colour) * rng.uniform(0.6, 1.2) * rng.uniform(0.85, 1.15, size=3)
    lights = [Light(colour=colour, direction=direction)] + [
        Light(colour=np.asarray(light.colour) * rng.uniform(0.5, 1.5), direction=light.direction,
              position=light.position, falloff_m=light.falloff_m) for light in scene.lights[1:]]
    return Scene(scene.primitives, scene.materials, lights, ambient=scene.ambient * rng.uniform(0.7, 1.3),
                 sky=scene.sky, clouds=scene.clouds, fog_m=scene.fog_m, exposure=scene.exposure, kind=scene.kind)


def _trimap(alpha: np.ndarray, band: int = 3) -> np.ndarray:
    """AM-2k style trimap: 255 sure foreground, 0 sure background, 128 the band in between."""
    fg = ndimage.binary_erosion(alpha >= 1.0, iterations=band)
    bg = ~ndimage.binary_dilation(alpha > 0.0, iterations=band)
    trimap = np.full(alpha.shape, 128, np.uint8)
    trimap[fg] = 255
    trimap[bg] = 0
    return trimap


def _freeze_mat_header(path: Path) -> None:
    """Replace the creation time scipy writes into a MAT-file header by fixed text (same seed -> same bytes)."""
    data = bytearray(path.read_bytes())
    text = b"MATLAB 5.0 MAT-file, written by the dpbench sample suite"
    data[:116] = text.ljust(116, b" ")
    path.write_bytes(bytes(data))


# -- writers -----------------------------------------------------------------------------------------


def _write_middlebury(ctx: _Context, root: Path) -> int:
    """MiddEval3 trainingF scenes: stereo pair, float disparity (PFM), nocc mask and calib.txt."""
    from dpbench.io.middlebury import MiddleburyCalib, depth_to_disparity, write_calib
    from dpbench.io.pfm import write_pfm

    names = ["Atrium", "Studio", "Workshop"]
    for index, name in enumerate(names):
        rng = ctx.rng("middlebury", index)
        width, height = ctx.size(360, 240)
        camera = camera_for(width, height, _f35(rng), pitch=rng.uniform(0.03, 0.12), yaw=rng.uniform(-0.1, 0.1))
        scene = build_room(rng, width, height, camera.fx, max_depth=rng.uniform(5.0, 7.0),
                           foreground=int(rng.integers(1, 3)))
        shadow = build_shadow_map(scene)
        left = render(scene, camera, SUPERSAMPLING, ctx.render_seed("middlebury", index), shadow)
        baseline_mm = float(np.round(rng.uniform(150.0, 200.0), 3))
        focal = camera.fx
        z_max = float(np.max(left.depth))
        doffs = float(np.round(0.3 * focal * baseline_mm / 1000.0 / z_max, 3))
        right_camera = camera.shifted(baseline_mm / 1000.0, doffs)
        right = render(scene, right_camera, 1, ctx.render_seed("middlebury", index, 1), shadow)
        disparity = depth_to_disparity(left.depth, focal, baseline_mm, doffs)
        occluded = occluded_in(camera, left.depth, right_camera, right.depth)
        nocc = np.where(occluded, 128, 255).astype(np.uint8)
        nocc[~np.isfinite(disparity)] = 0
        scene_dir = root / "MiddEval3" / "trainingF" / name
        ctx.record(name, scene, camera, left)
        _png(scene_dir / "im0.png", left.image)
        _png(scene_dir / "im1.png", right.image)
        write_pfm(scene_dir / "disp0GT.pfm", disparity)
        _png(scene_dir / "mask0nocc.png", nocc)
        finite = disparity[np.isfinite(disparity)]
        write_calib(scene_dir / "calib.txt", MiddleburyCalib(
            cam0=camera.K, cam1=right_camera.K, doffs=doffs, baseline=baseline_mm, width=width,
            height=height, ndisp=int(math.ceil(finite.max() + doffs)) + 1, isint=0,
            vmin=float(math.floor(finite.min())), vmax=float(math.ceil(finite.max()))))
    return len(names)


def _write_sintel(ctx: _Context, root: Path) -> int:
    """Two short sequences (a street and a room), camera moving: final + clean passes, .dpt, .cam."""
    from dpbench.io.sintel import write_cam, write_dpt

    count = 0
    for index, (scene_name, kind) in enumerate([("sample_alley", "street"), ("sample_market", "room")]):
        rng = ctx.rng("sintel", index)
        width, height = ctx.size(384, 164)
        f35 = _f35(rng, 20, 30)
        pitch, yaw = rng.uniform(0.0, 0.08), rng.uniform(-0.08, 0.08)
        focal = camera_for(width, height, f35).fx
        if kind == "street":
            scene = build_street(rng, width, height, focal, foreground=int(rng.integers(1, 3)))
        else:
            scene = build_room(rng, width, height, focal, max_depth=7.0, foreground=int(rng.integers(1, 3)))
        shadow = build_shadow_map(scene)
        step = rng.uniform(0.03, 0.06)
        turn = rng.uniform(-0.02, 0.02)
        for frame in range(1, 4):
            camera = camera_for(width, height, f35, pitch=pitch, yaw=yaw + turn * frame,
                                center=(0.5 * step * frame, 0.0, step * frame))
            view = render(scene, camera, SUPERSAMPLING, ctx.render_seed("sintel", index, frame), shadow)
            stem = f"frame_{frame:04d}"
            ctx.record(f"{scene_name}/{stem}", scene, camera, view)
            clean = view.image
            final = Image.fromarray(clean).filter(ImageFilter.GaussianBlur(radius=0.6))
            final = np.clip(np.asarray(final, np.float32) * np.array([1.04, 1.0, 0.95]) + 2.0, 0, 255).astype(np.uint8)
            _png(root / "training" / "clean" / scene_name / f"{stem}.png", clean)
            _png(root / "training" / "final" / scene_name / f"{stem}.png", final)
            depth = np.where(np.isfinite(view.depth), view.depth, SINTEL_SKY_DEPTH).astype(np.float32)
            write_dpt(root / "training" / "depth" / scene_name / f"{stem}.dpt", depth)
            write_cam(root / "training" / "camdata_left" / scene_name / f"{stem}.cam", camera.K, camera.extrinsics)
            count += 1
    return count


def _write_booster(ctx: _Context, root: Path) -> int:
    """Two scenes under two illuminations each: left/right images, float disparity, mask, calibration."""
    from dpbench.io.booster import write_booster_calib, write_booster_disparity

    count = 0
    for index, name in enumerate(["SampleBathroom", "SampleKitchen"]):
        rng = ctx.rng("booster", index)
        width, height = ctx.size(320, 234)
        camera = camera_for(width, height, _f35(rng), pitch=rng.uniform(0.03, 0.12), yaw=rng.uniform(-0.1, 0.1))
        scene = build_room(rng, width, height, camera.fx, max_depth=rng.uniform(5.0, 8.0), foreground=1)
        baseline_mm = float(np.round(rng.uniform(70.0, 90.0), 3))
        right_camera = camera.shifted(baseline_mm / 1000.0)
        scene_dir = root / "train" / "balanced" / name
        depth = right_depth = None
        for illumination in range(2):
            lit = scene if illumination == 0 else _relight(scene, rng)
            shadow = build_shadow_map(lit)
            left = render(lit, camera, SUPERSAMPLING, ctx.render_seed("booster", index, 2 * illumination), shadow)
            right = render(lit, right_camera, 1, ctx.render_seed("booster", index, 2 * illumination + 1), shadow)
            ctx.record(f"{name}/im{illumination}", lit, camera, left)
            _png(scene_dir / "camera_00" / f"im{illumination}.png", left.image)
            _png(scene_dir / "camera_02" / f"im{illumination}.png", right.image)
            if depth is None:
                depth, right_depth = left.depth, right.depth
            count += 1
        disparity = np.where(np.isfinite(depth), camera.fx * baseline_mm / (1000.0 * depth), 0.0)
        write_booster_disparity(scene_dir / "disp_00.npy", disparity.astype(np.float32))
        occluded = occluded_in(camera, depth, right_camera, right_depth)
        _png(scene_dir / "mask_00.png", np.where(occluded, 0, 255).astype(np.uint8))
        _png(scene_dir / "mask_cat.png", np.zeros(depth.shape, np.uint8))
        proj_left = np.hstack([camera.K, np.zeros((3, 1))])
        proj_right = np.hstack([camera.K, np.array([[-camera.fx * baseline_mm], [0.0], [0.0]])])
        write_booster_calib(scene_dir / "calib_00-02.xml", camera.K, proj_left, proj_right, baseline_mm,
                            mtxR=camera.K)
    return count


def _write_sunrgbd(ctx: _Context, root: Path) -> int:
    """Kinect-v2-style frames: JPEG, bit-rotated mm depth (raw with holes, and refined), intrinsics, split file."""
    from dpbench.io.sunrgbd import write_allsplit, write_depth_png, write_intrinsics

    entries = []
    for index in range(4):
        rng = ctx.rng("sunrgbd", index)
        width, height = ctx.size(320, 232)
        f35 = _f35(rng, 24, 28)
        camera = camera_for(width, height, f35, pitch=rng.uniform(0.05, 0.2), yaw=rng.uniform(-0.1, 0.1))
        scene = build_room(rng, width, height, camera.fx, max_depth=rng.uniform(4.5, 6.0), foreground=1)
        view = render(scene, camera, SUPERSAMPLING, ctx.render_seed("sunrgbd", index))
        if not np.isfinite(view.depth).all() or view.depth.max() >= 8.0:
            raise AssertionError("SUN RGB-D sample frames must stay within the 8 m the format holds")
        projector = camera.shifted(0.075)
        shadowed = occluded_in(camera, view.depth, projector, render_depth(scene, projector))
        frame = f"{index + 1:06d}_2024-01-01_12-00-{index:02d}_dpbench_rgbf{index + 1:06d}-resize"
        frame_dir = root / "SUNRGBD" / "kv2" / "kinect2data" / frame
        number = f"{index + 1:07d}"
        ctx.record(f"kv2/kinect2data/{frame}", scene, camera, view)
        _jpeg(frame_dir / "image" / f"{number}.jpg", view.image, _exif_for(f35))
        write_depth_png(frame_dir / "depth_bfx" / f"{number}.png", view.depth)
        write_depth_png(frame_dir / "depth" / f"{number}.png", np.where(shadowed, 0.0, view.depth))
        write_intrinsics(frame_dir / "intrinsics.txt", camera.K)
        (frame_dir / "scene.txt").write_text("living_room\n" if index % 2 == 0 else "office\n", encoding="ascii")
        entries.append(f"/n/fs/sun3d/data/SUNRGBD/kv2/kinect2data/{frame}/")
    split_path = root / "SUNRGBDtoolbox" / "traintestSUNRGBD" / "allsplit.mat"
    write_allsplit(split_path, alltrain=entries[3:], alltest=entries[:3])
    _freeze_mat_header(split_path)
    return len(entries)


def _matting_view(ctx: _Context, part: str, index: int, size: tuple[int, int]) -> tuple[Scene, Camera, Render, int]:
    rng = ctx.rng(part, index)
    width, height = ctx.size(*size)
    f35 = _f35(rng)
    camera = camera_for(width, height, f35, pitch=rng.uniform(0.0, 0.1), yaw=rng.uniform(-0.1, 0.1))
    builder = build_street if index % 2 else build_room
    kwargs = {} if index % 2 else {"max_depth": rng.uniform(5.0, 8.0)}
    scene = builder(rng, width, height, camera.fx, foreground=int(rng.integers(1, 3)), **kwargs)
    return scene, camera, render(scene, camera, SUPERSAMPLING, ctx.render_seed(part, index)), f35


def _write_am2k(ctx: _Context, root: Path) -> int:
    """AM-2k validation layout: JPEG photos, 8-bit anti-aliased alpha mattes, trimaps."""
    sizes = [(320, 240), (320, 240), (240, 320), (320, 240)]
    for index, size in enumerate(sizes):
        scene, camera, view, f35 = _matting_view(ctx, "am2k", index, size)
        stem = "m_" + hashlib.sha256(f"am2k-{ctx.seed}-{index}".encode()).hexdigest()[:8]
        ctx.record(f"validation/{stem}", scene, camera, view)
        alpha8 = np.round(view.alpha * 255.0).astype(np.uint8)
        _jpeg(root / "validation" / "original" / f"{stem}.jpg", view.image, _exif_for(f35))
        _png(root / "validation" / "mask" / f"{stem}.png", alpha8)
        _png(root / "validation" / "trimap" / f"{stem}.png", _trimap(view.alpha))
    return len(sizes)


def _write_dis5k(ctx: _Context, root: Path) -> int:
    """DIS-5k layout: JPEG photos and binary 0/255 masks, names with '#' and spaces like the real ones."""
    names = ["1#Sample#1#Furry Ball#dpbench_0001", "2#Sample#2#Fence#dpbench_0002",
             "3#Sample Objects#3#Wire Sphere#dpbench_0003", "4#Sample#4#Box#dpbench_0004"]
    for index, name in enumerate(names):
        scene, camera, view, f35 = _matting_view(ctx, "dis5k", index, (320, 240))
        ctx.record(f"DIS-VD/{name}", scene, camera, view)
        binary = np.where(view.alpha >= 0.5, 255, 0).astype(np.uint8)
        _jpeg(root / "DIS-VD" / "im" / f"{name}.jpg", view.image, _exif_for(f35))
        _png(root / "DIS-VD" / "gt" / f"{name}.png", binary)
    return len(names)


def _write_exif(ctx: _Context, root: Path) -> int:
    """JPEGs whose EXIF holds the 35 mm-equivalent focal; two are stored rotated (orientation 6 and 8)."""
    plan = [(320, 240, 1), (320, 240, 1), (240, 320, 1), (320, 240, 6), (320, 240, 8), (320, 240, 1)]
    for index, (base_w, base_h, orientation) in enumerate(plan):
        rng = ctx.rng("exif", index)
        width, height = ctx.size(base_w, base_h)
        f35 = _f35(rng, 18, 70)
        camera = camera_for(width, height, f35, pitch=rng.uniform(0.0, 0.1), yaw=rng.uniform(-0.1, 0.1))
        builder = build_street if index % 2 == 0 else build_room
        scene = builder(rng, width, height, camera.fx, foreground=1)
        view = render(scene, camera, SUPERSAMPLING, ctx.render_seed("exif", index))
        # Store pixels so that applying the EXIF orientation gives back the upright render.
        turns = {1: 0, 6: 1, 8: -1}[orientation]
        stored = np.ascontiguousarray(np.rot90(view.image, k=turns))
        name = f"sample_{index + 1:03d}_f{f35}mm.jpg"
        ctx.record(name, scene, camera, view)
        _jpeg(root / name, stored, _exif_for(f35, orientation))
    return len(plan)


@dataclass(frozen=True)
class Part:
    """One folder of the suite: the adapter that reads it, its tasks, and the function writing it."""

    name: str  # registry name of the adapter
    folder: str  # folder under the suite root
    tasks: tuple[str, ...]
    writer: Callable[[_Context, Path], int]


PARTS = (
    Part("middlebury", "middlebury", DEPTH_TASKS, _write_middlebury),
    Part("sintel", "sintel", DEPTH_TASKS, _write_sintel),
    Part("booster", "booster", DEPTH_TASKS, _write_booster),
    Part("sunrgbd", "sunrgbd", DEPTH_TASKS, _write_sunrgbd),
    Part("am2k", "AM-2k", ("boundary_mask",), _write_am2k),
    Part("dis5k", "DIS5K", ("boundary_mask",), _write_dis5k),
    Part("exif_folder", "exif", ("focal",), _write_exif),
)


# -- manifest, completeness, generation -------------------------------------------------------------


def _file_table(root: Path, folders: list[str]) -> dict[str, int]:
    table = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                table[path.relative_to(root).as_posix()] = path.stat().st_size
    return table


def read_manifest(root: str | os.PathLike) -> dict | None:
    """The suite manifest of ``root`` (None if absent or unreadable)."""
    path = Path(root) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def suite_status(root: str | os.PathLike) -> str | None:
    """None when ``root`` holds a complete, current sample suite; otherwise why not."""
    root = Path(root)
    manifest = read_manifest(root)
    if manifest is None:
        return f"no valid {MANIFEST}"
    if manifest.get("generator") != GENERATOR_VERSION:
        return f"made by generator version {manifest.get('generator')}, current is {GENERATOR_VERSION}"
    for relative, size in manifest.get("files", {}).items():
        path = root / relative
        if not path.is_file():
            return f"missing file {relative}"
        if path.stat().st_size != size:
            return f"file {relative} has {path.stat().st_size} bytes, expected {size}"
    return None


def _remove_owned(root: Path) -> None:
    """Delete the folders a previous suite wrote (only those carrying the suite's marker)."""
    for part in PARTS:
        folder = root / part.folder
        if not folder.exists():
            continue
        if not (folder / MARKER).is_file():
            raise DatasetError(
                f"{folder} exists and was not written by the sample suite (no {MARKER} marker); "
                "refusing to delete it: choose another output folder"
            )
        shutil.rmtree(folder)
    (root / MANIFEST).unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Lock:
    """An exclusive lock file so that concurrent processes (e.g. torchrun ranks) generate once."""

    def __init__(self, root: Path, timeout_s: float = 600.0):
        self.path = root / ".generating.lock"
        self.timeout_s = timeout_s

    def __enter__(self):
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                return self
            except FileExistsError:
                try:
                    owner = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    owner = 0
                if owner and not _pid_alive(owner):
                    self.path.unlink(missing_ok=True)  # stale lock of a crashed process
                    continue
                if time.monotonic() > deadline:
                    raise DatasetError(f"timed out waiting for {self.path} (another process generating the "
                                       "sample suite); delete the file if no such process runs") from None
                time.sleep(0.2)

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


def generate_sample_suite(out: str | os.PathLike, seed: int = 0, scale: float = 1.0,
                          overwrite: bool = False) -> Path:
    """Render the sample suite into ``out`` (see the module docstring) and return ``out``.

    If ``out`` already holds a complete suite made with the same seed and scale, nothing is
    done unless ``overwrite``; a suite made with other settings is replaced only with
    ``overwrite=True``. Only folders the suite wrote itself (they carry a marker file) are ever
    deleted. Folders are written to a temporary folder first and moved into place, the manifest last.
    """
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, got {scale}")
    return _generate(Path(out), int(seed), float(scale), overwrite=overwrite, keep_complete=False)


def is_generated(out: str | os.PathLike, seed: int = DEFAULT_SEED, scale: float = DEFAULT_SCALE) -> bool:
    """True when ``out`` already holds a complete, current suite made with ``seed`` and ``scale``,
    i.e. when :func:`generate_sample_suite` would write nothing (``dpbench sample`` says so)."""
    manifest = read_manifest(out)
    return (manifest is not None and suite_status(out) is None and manifest.get("seed") == int(seed)
            and manifest.get("scale") == float(scale))


def _generate(root: Path, seed: int, scale: float, *, overwrite: bool, keep_complete: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with _Lock(root):
        complete = suite_status(root) is None
        if keep_complete and complete:  # another process may have generated it meanwhile
            return root
        manifest = read_manifest(root)
        same = manifest is not None and manifest.get("seed") == seed and manifest.get("scale") == scale
        if same and complete and not overwrite:
            return root
        if manifest is not None and not same and not overwrite:
            raise DatasetError(
                f"{root} already holds a sample suite made with seed={manifest.get('seed')}, "
                f"scale={manifest.get('scale')}; pass overwrite=True (dpbench sample --force) to replace it"
            )
        _remove_owned(root)
        _write_all(root, seed, scale)
    return root


def _write_all(root: Path, seed: int, scale: float, observer: Callable[[Rendered], None] | None = None,
               parts: tuple[Part, ...] | None = None) -> None:
    """Write every part into ``root`` (through a staging folder) and the manifest last."""
    parts = PARTS if parts is None else parts
    staging = root / f".partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    ctx = _Context(staging, seed, scale, observer)
    entries = []
    started = time.perf_counter()
    bar = progress(total=len(parts), desc="sample suite", unit="datasets")
    try:
        for part in parts:
            folder = staging / part.folder
            folder.mkdir(parents=True)
            (folder / MARKER).write_text(f"{FORMAT} {part.name}\n", encoding="ascii")
            ctx.part = part.name
            count = part.writer(ctx, folder)
            entries.append({"name": part.name, "path": part.folder, "split": "all",
                            "tasks": list(part.tasks), "samples": count})
            bar.advance()
            bar.note(f"{part.name} written ({count} samples)")
        for part in parts:
            os.replace(staging / part.folder, root / part.folder)
    finally:
        bar.close()
        shutil.rmtree(staging, ignore_errors=True)
    manifest = {
        "format": FORMAT,
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "datasets": entries,
        "files": _file_table(root, [p.folder for p in parts]),
    }
    temporary = root / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, root / MANIFEST)
    log.info("sample suite written to %s in %.1f s", root, time.perf_counter() - started)


def default_sample_root() -> Path:
    """``$DPBENCH_DATA/sample`` if ``$DPBENCH_DATA`` is set, else ``<cache_dir>/sample``."""
    from dpbench.datasets import default_data_root
    from dpbench.resources import cache_dir

    data_root = default_data_root()
    return data_root / "sample" if data_root is not None else cache_dir() / "sample"


def ensure_sample_suite(root: str | os.PathLike | None = None) -> Path:
    """The sample suite's folder (default :func:`default_sample_root`), generated with
    ``DEFAULT_SEED``/``DEFAULT_SCALE`` if missing, incomplete or made by an older generator.

    A complete suite made with other settings (``dpbench sample --seed ...``) is kept as it is.
    """
    root = Path(root) if root is not None else default_sample_root()
    problem = suite_status(root)
    if problem is None:
        return root
    if (root / MANIFEST).exists():  # a broken or outdated suite is worth a warning
        log.warning("regenerating the sample suite in %s (%s)", root, problem)
    else:  # the normal first use: say what happens, as a plain line
        print(f"generating the sample suite in {root} (first use, about 10 s)", file=sys.stderr, flush=True)
    return _generate(root, DEFAULT_SEED, DEFAULT_SCALE, overwrite=True, keep_complete=True)
