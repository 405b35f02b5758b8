"""The bundled sample suite: renderer ground truth, the official formats read back through the real
adapters, determinism, generation control (idempotence, overwrite, ensure) and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dpbench.cli import cli
from dpbench.datasets import open_dataset
from dpbench.errors import DatasetError
from dpbench.sample import suite as suite_module
from dpbench.sample.geometry import Box, Cylinder, Plane, Sphere
from dpbench.sample.render import Camera, Light, Material, Scene, render
from dpbench.sample.textures import make_texture

SCALE = 0.25  # small images keep the whole file fast; the code paths are the same as at scale 1
DEPTH_SETS = {"middlebury", "sintel", "booster", "sunrgbd"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One suite (seed 0) written by the real writers, plus what was rendered for every sample."""
    root = tmp_path_factory.mktemp("sample") / "suite"
    root.mkdir()
    records = []
    suite_module._write_all(root, seed=0, scale=SCALE, observer=records.append)
    return root, records


def _open(root: Path, name: str):
    manifest = json.loads((root / "suite.json").read_text())
    entry = next(e for e in manifest["datasets"] if e["name"] == name)
    return open_dataset(name, root / entry["path"], split=entry["split"])


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# -- the renderer on its own ----------------------------------------------------------------------


def _camera(width=48, height=36, focal=40.0, pitch=0.0, center=(0.0, 0.0, 0.0)):
    c, s = np.cos(pitch), np.sin(pitch)
    cam_to_world = np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    return Camera(width, height, focal, focal, (width - 1) / 2, (height - 1) / 2, cam_to_world.T,
                  np.asarray(center, float))


def _tiny_scene(primitives):
    rng = np.random.default_rng(0)
    materials = [Material(make_texture("plaster", rng)), Material(make_texture("metal", rng))]
    return Scene(primitives, materials, [Light(colour=np.ones(3), direction=np.array([0.3, 1.0, 0.5]))])


def test_tilted_plane_depth_is_analytic():
    # Floor y = 1.5 seen by a camera pitched down by 0.3 rad: for pixel (u, v) the ray
    # d_cam = ((u-cx)/f, (v-cy)/f, 1) has world y = cos(p)*dy + sin(p)*1 (camera-to-world rotation),
    # so the floor is hit at planar depth z = 1.5 / (cos(p)*dy + sin(p)).
    pitch = 0.3
    camera = _camera(pitch=pitch)
    scene = _tiny_scene([Plane(0, n=(0, -1, 0), offset=-1.5)])
    view = render(scene, camera, ss=3, shadow=False)
    v, u = np.mgrid[0:36, 0:48].astype(float)
    dy = (v - camera.cy) / camera.fy
    expected = 1.5 / (np.cos(pitch) * dy + np.sin(pitch))
    hit = view.primitive == 0
    assert hit.sum() > 0.3 * hit.size
    np.testing.assert_allclose(view.depth[hit], expected[hit], rtol=1e-12)
    assert np.isinf(view.depth[~hit]).all() and (expected[~hit] <= 0).all()  # above the horizon


def test_sphere_depth_and_antialiased_alpha():
    center, radius = np.array([0.1, -0.05, 3.0]), 0.6
    camera = _camera()
    scene = _tiny_scene([Plane(0, n=(0, 0, -1), offset=-6.0),
                         Sphere(1, center=center, radius=radius, foreground=True),
                         Cylinder(1, p0=(-2, 0.4, 2.5), p1=(2, 0.4, 2.5), radius=0.02, foreground=True)])
    view = render(scene, camera, ss=3, shadow=False)
    on_sphere = view.primitive == 1
    v, u = np.mgrid[0:36, 0:48].astype(float)
    z = view.depth
    points = np.stack([(u - camera.cx) / camera.fx * z, (v - camera.cy) / camera.fy * z, z], axis=-1)
    distance = np.linalg.norm(points[on_sphere] - center, axis=1)
    np.testing.assert_allclose(distance, radius, rtol=1e-9)
    np.testing.assert_allclose(view.depth[view.primitive == 0], 6.0, rtol=1e-12)
    # The sphere interior is fully covered, the wall far from it not at all, its rim partially.
    assert (view.alpha[on_sphere] > 0).all()
    assert view.alpha.max() == 1.0 and view.alpha.min() == 0.0
    # A 2 cm wire at 2.5 m with f = 40 px is 0.64 px wide: 1 or 2 of the 3 sample rows, never all.
    wire_rows = view.alpha[:, :5]  # left edge: only the wire is foreground there
    assert 0 < wire_rows.max() < 1
    assert set(np.unique(wire_rows.max(axis=0))) <= {np.float32(1 / 3), np.float32(2 / 3)}


def test_render_rejects_even_supersampling_and_is_deterministic():
    scene = _tiny_scene([Plane(0, n=(0, 0, -1), offset=-4.0), Box(1, center=(0, 0, 3), half=(0.3, 0.3, 0.3), yaw=0.4)])
    with pytest.raises(ValueError, match="odd"):
        render(scene, _camera(), ss=2)
    a = render(scene, _camera(), ss=3, seed=5)
    b = render(scene, _camera(), ss=3, seed=5)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.image.dtype == np.uint8 and a.image.shape == (36, 48, 3)
    assert a.image.std() > 3  # textured and lit, not a flat colour


# -- the written suite, read back through the real adapters -------------------------------------


def test_manifest_and_every_adapter_opens(generated):
    root, records = generated
    manifest = json.loads((root / "suite.json").read_text())
    assert manifest["format"] == "dpbench-sample/1" and manifest["seed"] == 0 and manifest["scale"] == SCALE
    names = [e["name"] for e in manifest["datasets"]]
    assert names == ["middlebury", "sintel", "booster", "sunrgbd", "am2k", "dis5k", "exif_folder"]
    assert suite_module.suite_status(root) is None
    for entry in manifest["datasets"]:
        expected_tasks = {"am2k": ["boundary_mask"], "dis5k": ["boundary_mask"], "exif_folder": ["focal"]}
        assert entry["tasks"] == expected_tasks.get(entry["name"], ["metric_depth", "boundary_depth", "pointcloud"])
        assert entry["split"] == "all"
        ds = _open(root, entry["name"])
        recorded = [r.sample_id for r in records if r.dataset == entry["name"]]
        assert sorted(ds.ids) == sorted(recorded) and len(ds) == entry["samples"]
        assert ds.exclusion_summary() == {}
        for sample in ds:
            assert sample.image.ndim == 3
    assert sum(e["samples"] for e in manifest["datasets"]) >= 25  # "a few tens of images"


def _samples(root, records, names):
    for name in names:
        ds = _open(root, name)
        for record in (r for r in records if r.dataset == name):
            yield record, ds[ds.ids.index(record.sample_id)]


def test_depth_and_focal_decode_to_the_rendered_ground_truth(generated):
    root, records = generated
    for record, sample in _samples(root, records, sorted(DEPTH_SETS)):
        rendered = record.view.depth
        assert sample.depth.shape == rendered.shape
        assert sample.focal_px == pytest.approx(record.camera.fx, rel=1e-12)
        valid = sample.valid
        assert valid.mean() > 0.8, record.sample_id
        finite = np.isfinite(rendered)
        if record.dataset == "sunrgbd":  # whole millimetres
            assert np.abs(sample.depth[valid] - rendered[valid]).max() <= 0.0005 + 1e-6
        else:  # float32 depth or float32 disparity
            np.testing.assert_allclose(sample.depth[valid & finite], rendered[valid & finite], rtol=2e-6)
        if record.dataset == "sintel":
            np.testing.assert_array_equal(sample.depth[~finite], np.float32(1e5))  # sky
        else:
            assert finite.all()


def test_rendered_planes_read_back_at_their_analytic_depth(generated):
    root, records = generated
    checked = 0
    for record, sample in _samples(root, records, sorted(DEPTH_SETS)):
        camera = record.camera
        h, w = sample.depth.shape
        v, u = np.mgrid[0:h, 0:w].astype(float)
        ray = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], axis=-1)
        for index, prim in enumerate(record.scene.primitives):
            if not isinstance(prim, Plane):
                continue
            pixels = (record.view.primitive == index) & sample.valid
            if not pixels.any():
                continue
            # The plane in camera coordinates: n_c . X_c = offset - n . C with n_c = R n.
            n_cam = camera.R @ prim.n
            analytic = (prim.offset - prim.n @ camera.center) / (ray @ n_cam)
            tolerance = 0.0005 + 1e-6 if record.dataset == "sunrgbd" else 3e-6 * analytic[pixels].max()
            assert np.abs(sample.depth[pixels] - analytic[pixels]).max() <= tolerance
            checked += 1
    assert checked >= 20


def test_mask_edges_are_depth_discontinuities(generated):
    root, records = generated
    pairs = 0
    for record, sample in _samples(root, records, sorted(DEPTH_SETS)):
        fg_flags = np.append(record.scene.foreground_flags(), False)
        fg = fg_flags[record.view.primitive]
        depth, valid = sample.depth, sample.valid
        for axis in (0, 1):
            a = [slice(None)] * 2
            b = [slice(None)] * 2
            a[axis], b[axis] = slice(0, -1), slice(1, None)
            a, b = tuple(a), tuple(b)
            edge = (fg[a] != fg[b]) & valid[a] & valid[b]
            near = np.where(fg[a], depth[a], depth[b])[edge]
            far = np.where(fg[a], depth[b], depth[a])[edge]
            assert (far / near > 1.05).all(), record.sample_id
            pairs += int(edge.sum())
    assert pairs > 100


def test_written_masks_match_the_rendered_alpha(generated):
    root, records = generated
    for record, sample in _samples(root, records, ["am2k", "dis5k"]):
        alpha = record.view.alpha
        fg = np.append(record.scene.foreground_flags(), False)[record.view.primitive]
        if record.dataset == "am2k":
            np.testing.assert_array_equal(sample.mask, np.round(alpha * 255).astype(np.float32) / np.float32(255))
        else:
            np.testing.assert_array_equal(sample.mask, (alpha >= 0.5).astype(np.float32))
        assert fg[alpha == 1.0].all() and not fg[alpha == 0.0].any()
        assert 0.002 < (alpha > 0.1).mean() < 0.6
    trimaps = sorted((root / "AM-2k" / "validation" / "trimap").glob("*.png"))
    assert len(trimaps) == 4


def test_exif_folder_focal_and_orientation(generated):
    root, records = generated
    orientations = set()
    for record, sample in _samples(root, records, ["exif_folder"]):
        assert sample.focal_px == pytest.approx(record.camera.fx, rel=1e-9)
        assert sample.image.shape == record.view.image.shape  # upright after the EXIF orientation
        difference = np.abs(sample.image.astype(float) - record.view.image.astype(float)).mean()
        assert difference < 6.0, record.sample_id  # JPEG round-off only
        orientations.add(sample.meta["orientation"])
    assert orientations == {1, 6, 8}


# -- determinism ------------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_images(generated, tmp_path):
    root, _ = generated
    again = suite_module.generate_sample_suite(tmp_path / "again", seed=0, scale=SCALE)
    assert _hashes(again) == _hashes(root)
    other = suite_module.generate_sample_suite(tmp_path / "other", seed=1, scale=SCALE)
    first, second = _hashes(root), _hashes(other)
    images = [k for k in first if k.endswith((".png", ".jpg")) and k in second and "mask_cat" not in k]
    assert len(images) >= 20
    assert sum(first[k] != second[k] for k in images) == len(images)


# -- generation control -----------------------------------------------------------------------------


def _fake_parts(calls: list):
    def writer(ctx, folder):
        calls.append(ctx.seed)
        (folder / "data.txt").write_text(f"seed {ctx.seed} scale {ctx.scale}\n")
        return 1

    return (suite_module.Part("exif_folder", "exif", ("focal",), writer),)


@pytest.fixture
def fake_parts(monkeypatch):
    calls: list = []
    monkeypatch.setattr(suite_module, "PARTS", _fake_parts(calls))
    return calls


def test_generation_is_skipped_when_complete_and_guarded_otherwise(tmp_path, fake_parts):
    root = tmp_path / "s"
    suite_module.generate_sample_suite(root, seed=2, scale=0.5)
    assert fake_parts == [2]
    suite_module.generate_sample_suite(root, seed=2, scale=0.5)
    assert fake_parts == [2]  # complete: nothing redone
    with pytest.raises(DatasetError, match="seed=2"):
        suite_module.generate_sample_suite(root, seed=3, scale=0.5)
    suite_module.generate_sample_suite(root, seed=3, scale=0.5, overwrite=True)
    assert fake_parts == [2, 3]
    assert "seed 3" in (root / "exif" / "data.txt").read_text()
    assert not list(root.glob(".partial-*")) and not (root / ".generating.lock").exists()
    with pytest.raises(ValueError):
        suite_module.generate_sample_suite(root, scale=0)


def test_overwrite_never_deletes_foreign_folders(tmp_path, fake_parts):
    root = tmp_path / "data"
    (root / "exif").mkdir(parents=True)
    (root / "exif" / "my_photo.jpg").write_bytes(b"precious")
    with pytest.raises(DatasetError, match="refusing to delete"):
        suite_module.generate_sample_suite(root, overwrite=True)
    assert (root / "exif" / "my_photo.jpg").read_bytes() == b"precious"


def test_ensure_generates_once_and_repairs(tmp_path, fake_parts, monkeypatch):
    monkeypatch.setenv("DPBENCH_DATA", str(tmp_path / "data"))
    assert suite_module.default_sample_root() == tmp_path / "data" / "sample"
    root = suite_module.ensure_sample_suite()
    assert root == tmp_path / "data" / "sample" and fake_parts == [0]
    assert suite_module.ensure_sample_suite() == root and fake_parts == [0]
    (root / "exif" / "data.txt").write_text("truncated")
    assert "bytes" in suite_module.suite_status(root)
    suite_module.ensure_sample_suite(root)
    assert fake_parts == [0, 0] and suite_module.suite_status(root) is None
    # A complete suite made with other settings is kept as it is.
    suite_module.generate_sample_suite(root, seed=9, overwrite=True)
    suite_module.ensure_sample_suite(root)
    assert fake_parts == [0, 0, 9]


def test_default_root_without_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("DPBENCH_CACHE", str(tmp_path / "cache"))
    assert suite_module.default_sample_root() == tmp_path / "cache" / "sample"


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, fake_parts):
    root = tmp_path / "s"
    root.mkdir()
    (root / ".generating.lock").write_text("999999999")  # no such process
    suite_module.generate_sample_suite(root)
    assert fake_parts == [0]


def test_cli_sample_command(tmp_path, fake_parts):
    runner = CliRunner()
    out = tmp_path / "cli-suite"
    result = runner.invoke(cli, ["sample", "--out", str(out), "--scale", "0.5"])
    assert result.exit_code == 0, result.output
    assert f"sample suite written to {out}" in result.output
    assert json.loads((out / "suite.json").read_text())["scale"] == 0.5
    result = runner.invoke(cli, ["sample", "--out", str(out), "--seed", "4"])
    assert result.exit_code == 2 and "--force" in result.output
    result = runner.invoke(cli, ["sample", "--out", str(out), "--seed", "4", "--force"])
    assert result.exit_code == 0 and fake_parts == [0, 4]


def test_suite_folder_names_match_the_adapters_defaults():
    # Every folder name is one the adapter's protocol lists, so `find_dataset_root` finds it too.
    from dpbench.datasets.base import load_spec

    for part in suite_module.PARTS:
        folders = load_spec(part.name).get("folders", [])
        assert part.folder in folders or part.folder == part.name, part


@pytest.mark.skipif(os.environ.get("DPBENCH_SAMPLE_FULL") != "1", reason="full-scale generation: set DPBENCH_SAMPLE_FULL=1")
def test_full_scale_suite(tmp_path):
    root = suite_module.generate_sample_suite(tmp_path / "full")
    assert suite_module.suite_status(root) is None
