"""Hostile files: every reader refuses them with a DatasetError (ModelError for predictions) that
names the file, without exhausting memory and without reading outside the folders it was given.

The bombs (sparse files, compressed streams of zeros, fill-value HDF5 datasets, headers declaring
gigabytes) are read in one subprocess whose address space is capped at 1.5 GB, so a reader that
allocated what a file declares would die with MemoryError there instead of passing. torch is
never imported in that subprocess (numpy, h5py, OpenCV, Pillow and scipy fit under the cap).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from dpbench.errors import DatasetError, DpbenchError, ModelError
from dpbench.io import (
    booster,
    colmap,
    diode,
    exif,
    ibims,
    kitti,
    middlebury,
    nuscenes,
    nyu,
    opencv_xml,
    spring,
    sunrgbd,
)
from dpbench.io.hdf5 import read_hdf5_array
from dpbench.io.limits import max_pixels
from dpbench.io.pfm import read_pfm, write_pfm
from dpbench.io.png16 import write_png16
from dpbench.models.predictions import PredictionsSource
from dpbench.types import Sample

ADDRESS_LIMIT = 1536 << 20  # bytes
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _default_limits(monkeypatch):
    monkeypatch.delenv("DPBENCH_MAX_PIXELS", raising=False)
    monkeypatch.delenv("DPBENCH_ALLOW_SYMLINKS", raising=False)


def _sparse(path: Path, head: bytes, size: int) -> Path:
    """A file of ``size`` bytes holding ``head`` and then a hole (no disk space used)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def _zlib_of_repeats(prefix: bytes, chunk: bytes, count: int) -> bytes:
    """A zlib stream of ``prefix + chunk * count``, built by compressing ``chunk`` once: each
    segment ends in a full flush, so the same bytes can follow each other."""
    def segment(data: bytes) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)

    checksum = zlib.adler32(prefix)
    for _ in range(count):
        checksum = zlib.adler32(chunk, checksum)
    body = (segment(prefix) if prefix else b"") + segment(chunk) * count
    return b"\x78\xda" + body + b"\x03\x00" + struct.pack(">I", checksum)


def _png_bomb(path: Path, side: int) -> Path:
    """A valid 16-bit grey PNG of side×side zeros: ~0.5 MB on disk for 16000² (512 MB decoded)."""
    rows = 250
    idat = _zlib_of_repeats(b"", b"\0" * ((1 + 2 * side) * rows), side // rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 16, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def _mat_bomb(path: Path) -> Path:
    """A MATLAB v5 file whose compressed variable ``alltrain`` inflates to an 8192×10240 double
    array (671 MB) from ~0.7 MB."""
    rows, cols = 8192, 10240
    payload = rows * cols * 8
    elements = (
        struct.pack("<II", 6, 8) + struct.pack("<II", 6, 0)  # array flags: mxDOUBLE_CLASS
        + struct.pack("<II", 5, 8) + struct.pack("<ii", rows, cols)  # dimensions
        + struct.pack("<II", 1, 8) + b"alltrain"  # name
        + struct.pack("<II", 9, payload)  # real part: miDOUBLE
    )
    matrix = struct.pack("<II", 14, len(elements) + payload) + elements
    chunk = b"\0" * (8 << 20)
    stream = _zlib_of_repeats(matrix, chunk, payload // len(chunk))
    header = b"MATLAB 5.0 MAT-file, hostile".ljust(116, b" ") + b"\0" * 8 + b"\x00\x01IM"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + struct.pack("<II", 15, len(stream)) + stream)
    return path


def _npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def _fill_value_hdf5(path: Path, key: str, shape: tuple[int, ...], dtype: str = "f4") -> Path:
    """An HDF5 file of a few KB whose dataset ``key`` declares ``shape`` (never written: fill value)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset(key, shape=shape, dtype=dtype, chunks=(1,) * (len(shape) - 2) + (256, 256),
                              fillvalue=1.0)
    return path


# -- the bombs, read under an address-space cap --------------------------------------------------

BOMB_CALLS = {
    # name: (expression evaluated in the capped child with `path` bound, expected error class)
    "pfm_sparse_25000": ("read_pfm(path)", "DatasetError"),
    "dpt_sparse_10GB": ("read_dpt(path)", "DatasetError"),
    "pcd_sparse_10GB": ("read_pcd_bin(path)", "DatasetError"),
    "eth3d_sparse_60000": ("eth3d_depth(path, (60000, 60000))", "DatasetError"),
    "cam_sparse_10GB": ("read_cam(path)", "DatasetError"),
    "calib_sparse_10GB": ("middlebury_calib(path)", "DatasetError"),
    "table_sparse_10GB": ("load_table(path.parent, 'sample')", "DatasetError"),
    "npy_sparse_header": ("diode_depth(path)", "DatasetError"),
    "png_bomb_image": ("read_image(path)", "DatasetError"),
    "png_bomb_png16": ("read_png16(path)", "DatasetError"),
    "png_bomb_mask": ("read_grey_png(path)", "DatasetError"),
    "hdf5_fill_hypersim": ("hypersim_hdf5(path)", "DatasetError"),
    "hdf5_fill_spring": ("read_dsp5(path)", "DatasetError"),
    "hdf5_fill_nyu": ("NyuLabeled(path)", "DatasetError"),
    "mat_bomb_allsplit": ("read_allsplit(path)", "DatasetError"),
    "pred_png_bomb": ("predict(path)", "ModelError"),
    "pred_npy_bomb": ("predict(path)", "ModelError"),
    "pred_npz_bomb": ("predict(path)", "ModelError"),
    "pred_pfm_sparse": ("predict(path)", "ModelError"),
    "pred_hdf5_fill": ("predict(path)", "ModelError"),
}

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from dpbench.io.booster import read_booster_disparity
    from dpbench.io.diode import read_depth as diode_depth
    from dpbench.io.eth3d import read_depth as eth3d_depth
    from dpbench.io.hypersim import read_hdf5 as hypersim_hdf5
    from dpbench.io.image import read_image
    from dpbench.io.middlebury import read_calib as middlebury_calib
    from dpbench.io.nuscenes import load_table, read_pcd_bin
    from dpbench.io.nyu import NyuLabeled
    from dpbench.io.pfm import read_pfm
    from dpbench.io.png16 import read_grey_png, read_png16
    from dpbench.io.sintel import read_cam, read_dpt
    from dpbench.io.spring import read_dsp5
    from dpbench.io.sunrgbd import read_allsplit
    from dpbench.models.predictions import PredictionsSource
    from dpbench.types import Sample
    import numpy as np

    def predict(path):
        root = path.parent if path.suffix not in (".h5",) else path
        sample = Sample(id=path.stem if path.suffix != ".h5" else "a", image=np.zeros((4, 4, 3), np.uint8))
        return PredictionsSource(root, png_scale=1000.0).predict(sample)

    results = {{}}
    for name, (expression, path) in json.loads(sys.stdin.read()).items():
        try:
            eval(expression, globals(), {{"path": Path(path)}})
            results[name] = {{"type": None}}
        except BaseException as exc:  # MemoryError, RecursionError: exactly what must not happen
            results[name] = {{"type": type(exc).__name__,
                              "mro": [c.__name__ for c in type(exc).__mro__], "message": str(exc)}}
    assert "torch" not in sys.modules, "torch must stay out of the capped process"
    print(json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def bomb_results(tmp_path_factory):
    """Build every bomb, read them all in one address-space-capped subprocess, return the outcomes."""
    base = tmp_path_factory.mktemp("bombs")
    paths: dict[str, Path] = {
        "pfm_sparse_25000": _sparse(base / "d.pfm", b"Pf\n25000 25000\n-1.0\n", 15 + 25000 * 25000 * 4),
        "dpt_sparse_10GB": _sparse(base / "d.dpt", b"PIEH" + struct.pack("<ii", 50000, 50000), 12 + 50000**2 * 4),
        "pcd_sparse_10GB": _sparse(base / "lidar.pcd.bin", b"", 20 * 500_000_000),
        "eth3d_sparse_60000": _sparse(base / "DSC_0001.JPG", b"", 60000 * 60000 * 4),
        "cam_sparse_10GB": _sparse(base / "f.cam", b"PIEH", 10 << 30),
        "calib_sparse_10GB": _sparse(base / "calib.txt", b"cam0=[1 0 0; 0 1 0; 0 0 1]\n", 10 << 30),
        "table_sparse_10GB": _sparse(base / "v1.0-mini" / "sample.json", b"[", 10 << 30),
        "npy_sparse_header": _sparse(base / "x_depth.npy", _npy_header((50000, 50000, 1)), 10 << 30),
        "hdf5_fill_hypersim": _fill_value_hdf5(base / "h.hdf5", "dataset", (30000, 30000)),
        "hdf5_fill_spring": _fill_value_hdf5(base / "s.dsp5", "disparity", (30000, 30000)),
        "mat_bomb_allsplit": _mat_bomb(base / "allsplit.mat"),
    }
    png = _png_bomb(base / "bomb.png", 16000)
    paths.update(png_bomb_image=png, png_bomb_png16=png, png_bomb_mask=png)
    nyu_path = base / "nyu.mat"
    with h5py.File(nyu_path, "w") as handle:
        for key, shape in (("images", (1, 3, 30000, 30000)), ("depths", (1, 30000, 30000)),
                           ("rawDepths", (1, 30000, 30000))):
            handle.create_dataset(key, shape=shape, dtype="u1" if key == "images" else "f4",
                                  chunks=(1,) * (len(shape) - 2) + (256, 256))
    paths["hdf5_fill_nyu"] = nyu_path
    pred = base / "preds"
    pred.mkdir()
    paths["pred_png_bomb"] = _png_bomb(pred / "png" / "a.png", 16000)
    paths["pred_npy_bomb"] = _sparse(pred / "npy" / "a.npy", _npy_header((50000, 50000)), 10 << 30)
    npz = pred / "npz" / "a.npz"
    npz.parent.mkdir()
    with zipfile.ZipFile(npz, "w", zipfile.ZIP_DEFLATED) as archive:  # header of 1.6 GB, 1 MB of data
        archive.writestr("depth.npy", _npy_header((20000, 20000)) + b"\0" * (1 << 20))
    paths["pred_npz_bomb"] = npz
    paths["pred_pfm_sparse"] = _sparse(pred / "pfm" / "a.pfm", b"Pf\n25000 25000\n-1.0\n", 15 + 25000**2 * 4)
    paths["pred_hdf5_fill"] = _fill_value_hdf5(pred / "preds.h5", "a", (30000, 30000))

    cases = {name: (BOMB_CALLS[name][0], str(path)) for name, path in paths.items()}
    env = {k: v for k, v in os.environ.items() if k not in ("DPBENCH_MAX_PIXELS", "DPBENCH_ALLOW_SYMLINKS")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(limit=ADDRESS_LIMIT)], input=json.dumps(cases),
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), paths


@pytest.mark.parametrize("name", sorted(BOMB_CALLS))
def test_bomb_is_refused_in_bounded_memory(bomb_results, name):
    results, paths = bomb_results
    outcome = results[name]
    expected = BOMB_CALLS[name][1]
    assert outcome["type"] is not None, f"{name}: the reader returned instead of refusing"
    assert expected in outcome["mro"], f"{name}: {outcome['type']}: {outcome['message']}"
    assert "MemoryError" not in outcome["mro"]
    assert str(paths[name]) in outcome["message"] or paths[name].name in outcome["message"]


def test_bomb_messages_say_what_is_wrong(bomb_results):
    results, _ = bomb_results
    assert "over the limit of 64,000,000" in results["pfm_sparse_25000"]["message"]
    assert "DPBENCH_MAX_PIXELS" in results["png_bomb_png16"]["message"]
    assert "DPBENCH_MAX_PIXELS" in results["png_bomb_image"]["message"]
    assert "inflates to more than" in results["mat_bomb_allsplit"]["message"]
    assert "500,000,000 points" in results["pcd_sparse_10GB"]["message"]


# -- the pixel limit itself -----------------------------------------------------------------------

def test_pixel_limit_is_configurable(tmp_path, monkeypatch):
    path = tmp_path / "small.pfm"
    write_pfm(path, np.ones((10, 10), np.float32))
    assert max_pixels() == 64_000_000
    monkeypatch.setenv("DPBENCH_MAX_PIXELS", "99")
    with pytest.raises(DatasetError, match=r"small\.pfm: PFM header declares 10x10x1 = 100 pixels, over the limit of 99"):
        read_pfm(path)
    monkeypatch.setenv("DPBENCH_MAX_PIXELS", "100")
    assert read_pfm(path)[0].shape == (10, 10)
    monkeypatch.setenv("DPBENCH_MAX_PIXELS", "lots")
    with pytest.raises(DpbenchError, match="DPBENCH_MAX_PIXELS='lots'"):
        read_pfm(path)


def test_pixel_limit_applies_to_pngs_and_hdf5(tmp_path, monkeypatch):
    from dpbench.io.png16 import read_png16

    write_png16(tmp_path / "d.png", np.ones((8, 8), np.uint16))
    read_hdf5_path = tmp_path / "h.hdf5"
    with h5py.File(read_hdf5_path, "w") as handle:
        handle["dataset"] = np.ones((8, 8), np.float32)
    monkeypatch.setenv("DPBENCH_MAX_PIXELS", "63")
    with pytest.raises(DatasetError, match=r"d\.png: PNG header declares 8x8"):
        read_png16(tmp_path / "d.png")
    with pytest.raises(DatasetError, match=r"h\.hdf5: 'dataset'.*8x8"):
        read_hdf5_array(read_hdf5_path, "dataset", "test")


# -- escapes that were not DatasetErrors ----------------------------------------------------------

def _calib(tmp_path: Path, extra: str, cam0: str = "[3000 0 10; 0 3000 5; 0 0 1]", **values) -> Path:
    fields = {"doffs": "100", "baseline": "170", **values}
    path = tmp_path / "calib.txt"
    path.write_text(f"cam0={cam0}\n" + "".join(f"{k}={v}\n" for k, v in fields.items()) + extra)
    return path


@pytest.mark.parametrize(
    ("extra", "cam0", "values", "message"),
    [
        ("width=inf\n", None, {}, "width: expected a whole number"),
        ("ndisp=1e400\n", None, {}, "ndisp: expected a whole number"),
        ("width=0\n", None, {}, "width must be positive"),
        ("width=-5\n", None, {}, "width must be positive"),
        ("width=100000\nheight=100000\n", None, {}, "over the limit"),
        ("", "[nan 0 10; 0 3000 5; 0 0 1]", {}, "cam0: non-finite"),
        ("", "[-3000 0 10; 0 3000 5; 0 0 1]", {}, "cam0 focal length must be positive"),
        ("", "[0 0 10; 0 3000 5; 0 0 1]", {}, "cam0 focal length must be positive"),
        ("", None, {"baseline": "nan"}, "baseline: expected a finite number"),
        ("", None, {"baseline": "0"}, "baseline must be a positive"),
        ("", None, {"doffs": "nan"}, "doffs: expected a finite number"),
        ("", None, {"doffs": "-3"}, "doffs must be zero or a positive"),
        ("", None, {"doffs": "inf"}, "doffs: expected a finite number"),
    ],
)
def test_middlebury_calib_values_are_bounded(tmp_path, extra, cam0, values, message):
    kwargs = {"cam0": cam0} if cam0 else {}
    path = _calib(tmp_path, extra, **kwargs, **values)
    with pytest.raises(DatasetError, match=message) as info:
        middlebury.read_calib(path)
    assert str(info.value).startswith(f"{path}: ")


def _nested_xml(depth: int) -> str:
    return "<?xml version='1.0'?><opencv_storage>" + "<a>" * depth + "1" + "</a>" * depth + "</opencv_storage>"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_nested_xml(100_000), "nested more than 64 levels"),
        ("<?xml version='1.0'?><opencv_storage><m type_id='opencv-matrix'><rows>-1</rows><cols>-1</cols>"
         "<dt>d</dt><data>1</data></m></opencv_storage>", "invalid size -1x-1"),
        ("<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a '" + "x" * 50 + "'>"
         + "".join(f"<!ENTITY {chr(98 + i)} '" + f"&{chr(97 + i)};" * 10 + "'>" for i in range(8))
         + "]><opencv_storage><v>&i;</v></opencv_storage>", "not a readable XML"),
    ],
)
def test_hostile_opencv_xml(tmp_path, text, message):
    path = tmp_path / "calib_00-02.xml"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message) as info:
        opencv_xml.read_opencv_xml(path)
    assert str(info.value).startswith(f"{path}: ")


def test_deeply_nested_json_tables(tmp_path):
    folder = tmp_path / "v1.0-mini"
    folder.mkdir()
    (folder / "sample.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DatasetError, match=r"sample\.json: nuScenes table is nested too deeply"):
        nuscenes.load_table(folder, "sample")
    (folder / "scene.json").write_text("[" * 500 + "]" * 500)  # parses, but deeper than any table
    with pytest.raises(DatasetError, match=r"scene\.json: nuScenes table is nested more than 64"):
        nuscenes.load_table(folder, "scene")


def test_hdf5_group_compound_and_string_keys(tmp_path):
    path = tmp_path / "frame.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_group("dataset")
    with pytest.raises(DatasetError, match=r"frame\.hdf5: 'dataset' is a group, not a dataset"):
        read_hdf5_array(path, "dataset", "HyperSim HDF5")
    compound = np.zeros(4, dtype=[("a", "f4"), ("b", "i4")])
    with h5py.File(path, "w") as handle:
        handle["dataset"] = compound
    with pytest.raises(DatasetError, match=r"frame\.hdf5: 'dataset' holds .* values, expected numbers"):
        read_hdf5_array(path, "dataset", "HyperSim HDF5")
    dsp5 = tmp_path / "disp.dsp5"
    with h5py.File(dsp5, "w") as handle:
        handle["disparity"] = np.array([[b"a", b"b"]])
    with pytest.raises(DatasetError, match=r"disp\.dsp5: 'disparity' holds \|S1 values"):
        spring.read_dsp5(dsp5)


def test_hdf5_external_link_and_storage_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "linked.hdf5"
    with h5py.File(path, "w") as handle:
        handle["dataset"] = h5py.ExternalLink("/etc/hostname", "/data")
    with pytest.raises(DatasetError, match=r"linked\.hdf5: '/dataset' is an external link to /etc/hostname"):
        read_hdf5_array(path, "dataset", "HyperSim HDF5")
    stored = tmp_path / "stored.hdf5"
    with h5py.File(stored, "w") as handle:
        handle.create_dataset("dataset", shape=(1,), dtype="u1", external=[("/etc/hostname", 0, 1)])
    with pytest.raises(DatasetError, match=r"stored\.hdf5: 'dataset' keeps its values in external file\(s\) /etc/hostname"):
        read_hdf5_array(stored, "dataset", "HyperSim HDF5")
    via_soft = tmp_path / "soft.hdf5"
    with h5py.File(via_soft, "w") as handle:
        handle["outside"] = h5py.ExternalLink("/etc/hostname", "/")
        handle["dataset"] = h5py.SoftLink("/outside/x")
    with pytest.raises(DatasetError, match=r"soft\.hdf5: '/outside' is an external link"):
        read_hdf5_array(via_soft, "dataset", "HyperSim HDF5")
    monkeypatch.setenv("DPBENCH_ALLOW_SYMLINKS", "1")
    assert read_hdf5_array(stored, "dataset", "HyperSim HDF5").shape == (1,)  # reads the byte, as asked


def test_nyu_hostile_labeled_and_splits(tmp_path):
    labeled = tmp_path / "nyu_depth_v2_labeled.mat"
    with h5py.File(labeled, "w") as handle:
        handle["images"] = np.zeros((1, 3, 4, 3), np.uint8)
        handle.create_group("depths")
        handle["rawDepths"] = np.zeros((1, 4, 3), np.float32)
    with pytest.raises(DatasetError, match=r"labeled\.mat: 'depths' is a group, not a dataset"):
        nyu.NyuLabeled(labeled)
    splits = tmp_path / "splits.mat"
    for values, message in (([1.0, np.nan], "holds nan"), ([1.5, 2.0], "holds 1.5"), ([0.0], "holds 0.0"),
                            ([-3.0], "holds -3.0")):
        nyu.write_splits(splits, values, [1])
        with pytest.raises(DatasetError, match=rf"splits\.mat: 'trainNdxs' {message} at position \d+, not a whole"):
            nyu.read_splits(splits)


def test_empty_and_garbage_mat_files(tmp_path):
    empty = tmp_path / "allsplit.mat"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"allsplit\.mat: (unreadable MATLAB file|.*not a MATLAB file)"):
        sunrgbd.read_allsplit(empty)
    garbage = tmp_path / "splits.mat"
    garbage.write_bytes(os.urandom(300))
    with pytest.raises(DatasetError, match=r"splits\.mat: "):
        nyu.read_splits(garbage)


def test_npy_files_that_are_not_what_they_say(tmp_path):
    npz = tmp_path / "x_depth.npy"
    with npz.open("wb") as handle:
        np.savez(handle, depth=np.ones((2, 2), np.float32))
    with pytest.raises(DatasetError, match=r"x_depth\.npy: DIODE depth is a \.npz archive"):
        diode.read_depth(npz)
    objects = tmp_path / "disp_00.npy"
    objects.write_bytes(_npy_header((2,), "|O") + b"\0" * 16)
    with pytest.raises(DatasetError, match=r"disp_00\.npy: Booster disparity holds object values"):
        booster.read_booster_disparity(objects)
    short = tmp_path / "short_depth.npy"
    short.write_bytes(_npy_header((100, 100)) + b"\0" * 10)
    with pytest.raises(DatasetError, match=r"short_depth\.npy: truncated DIODE depth"):
        diode.read_depth(short)


def test_colmap_and_text_calibrations_are_bounded(tmp_path):
    cameras = tmp_path / "cameras.txt"
    for line, message in (
        ("1 PINHOLE 0 4032 3000 3000 10 10", "image size must be positive"),
        ("1 PINHOLE 6048 4032 nan 3000 10 10", "non-finite parameter"),
        ("1 PINHOLE 6048 4032 -3000 3000 10 10", "focal length must be positive"),
        ("1 SIMPLE_RADIAL 6048 4032 0 10 10 0", "focal length must be positive"),
        ("1 PINHOLE 100000 100000 3000 3000 10 10", "over the limit"),
    ):
        cameras.write_text(line + "\n")
        with pytest.raises(DatasetError, match=message) as info:
            colmap.read_cameras_txt(cameras)
        assert str(info.value).startswith(f"{cameras}: ")
    calib = tmp_path / "ibims.txt"
    calib.write_text("nan,500,10,10")
    with pytest.raises(DatasetError, match=r"ibims\.txt: calibration holds a non-finite value"):
        ibims.read_calib(calib)
    intrinsics = tmp_path / "intrinsics.txt"
    intrinsics.write_text("1000 -1000 10 10\n")
    with pytest.raises(DatasetError, match=r"intrinsics\.txt: line 1: fx and fy must be positive"):
        spring.read_intrinsics(intrinsics)
    intrinsics.write_text("inf 0 1 0 500 1 0 0 1")
    with pytest.raises(DatasetError, match=r"intrinsics\.txt: intrinsics\.txt holds a non-finite"):
        sunrgbd.read_intrinsics(intrinsics)
    cam_to_cam = tmp_path / "calib_cam_to_cam.txt"
    kitti.write_calib_file(cam_to_cam, {"P_rect_02": np.array([[0, 0, 1, 0], [0, 1, 1, 0], [0, 0, 1, 0.0]])})
    with pytest.raises(DatasetError, match=r"cam_to_cam\.txt: P_rect_02\[0,0\] \(focal length, px\) must be positive"):
        kitti.read_p_rect(cam_to_cam)


def test_booster_focal_must_be_positive(tmp_path):
    path = tmp_path / "calib_00-02.xml"
    proj = np.array([[-5.0, 0, 1, 0], [0, 5, 1, 0], [0, 0, 1, 0]])
    booster.write_booster_calib(path, np.eye(3), proj, proj, 80.0)
    calib = booster.read_booster_calib(path)
    with pytest.raises(DatasetError, match=r"calib_00-02\.xml: proj_matL\[0,0\] \(focal length, px\) must be positive"):
        calib.focal_px()
    proj[1, 1] = np.inf
    booster.write_booster_calib(path, np.eye(3), proj, proj, 80.0)
    with pytest.raises(DatasetError, match=r"calib_00-02\.xml: proj_matL holds a non-finite value"):
        booster.read_booster_calib(path)


def test_exif_focal35_sentinel_is_not_a_focal(tmp_path):
    from PIL import Image

    path = tmp_path / "IMG_1.jpg"
    Image.fromarray(np.zeros((24, 36, 3), np.uint8)).save(path, exif=exif.make_exif(f35=65535))
    facts = exif.read_exif_focal(path)
    assert facts.f35_mm is None and facts.implausible == (("FocalLengthIn35mmFilm", 65535.0),)
    result = exif.focal_px_from_exif(facts)
    assert result.focal_px is None
    assert "FocalLengthIn35mmFilm = 65535 mm is outside the plausible 4–5000 mm" in result.reason
    assert exif.focal_px_from_exif(exif.ExifFocal(path="x", width=36, height=24, f35_mm=2.0)).focal_px is None


# -- predictions: hostile files and links ---------------------------------------------------------

def _sample(sample_id: str = "a") -> Sample:
    return Sample(id=sample_id, image=np.zeros((4, 4, 3), np.uint8))


def _prediction(folder: Path, name: str = "a.npy") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / name, np.ones((4, 4), np.float32))
    return folder / name


def test_symlinked_prediction_file_outside_is_refused(tmp_path, monkeypatch):
    outside = _prediction(tmp_path / "elsewhere")
    root = tmp_path / "preds"
    root.mkdir()
    (root / "a.npy").symlink_to(outside)
    with pytest.raises(ModelError, match=r"preds/a\.npy: prediction file is a link to .*elsewhere/a\.npy, outside"):
        PredictionsSource(root).predict(_sample())
    monkeypatch.setenv("DPBENCH_ALLOW_SYMLINKS", "1")
    assert PredictionsSource(root).predict(_sample()).depth.shape == (4, 4)


def test_symlink_inside_the_root_is_followed(tmp_path):
    root = tmp_path / "preds"
    target = _prediction(root / "store", "real.npy")
    (root / "a.npy").symlink_to(target)
    assert PredictionsSource(root).predict(_sample()).depth.shape == (4, 4)
    linked_root = tmp_path / "named"  # the folder the user names may itself be a link
    linked_root.symlink_to(root)
    assert PredictionsSource(linked_root).predict(_sample()).depth.shape == (4, 4)


def test_symlinked_dataset_folder_and_side_files_outside_are_refused(tmp_path):
    _prediction(tmp_path / "elsewhere")
    root = tmp_path / "preds"
    root.mkdir()
    (root / "sintel").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ModelError, match=r"preds/sintel: dataset folder is a link to .*elsewhere"):
        PredictionsSource(root, dataset="sintel").predict(_sample())
    (tmp_path / "meta.json").write_text('{"output_kind": "metric_depth"}')
    other = tmp_path / "preds2"
    other.mkdir()
    (other / "meta.json").symlink_to(tmp_path / "meta.json")
    with pytest.raises(ModelError, match=r"preds2/meta\.json: meta\.json is a link to"):
        PredictionsSource(other)
    (tmp_path / "hostname.json").symlink_to("/etc/hostname")
    third = tmp_path / "preds3"
    _prediction(third)
    (third / "focal.json").symlink_to("/etc/hostname")
    with pytest.raises(ModelError, match=r"preds3/focal\.json: focal table is a link to /etc/hostname"):
        PredictionsSource(third).predict(_sample())


def test_prediction_json_nesting_and_hdf5_links(tmp_path):
    root = tmp_path / "preds"
    _prediction(root)
    (root / "meta.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match=r"meta\.json: meta\.json is nested too deeply"):
        PredictionsSource(root)
    h5 = tmp_path / "preds.h5"
    with h5py.File(h5, "w") as handle:
        handle["a"] = h5py.ExternalLink("/etc/hostname", "/x")
    with pytest.raises(ModelError, match=r"preds\.h5: '/a' is an external link to /etc/hostname"):
        PredictionsSource(h5).predict(_sample())
    with h5py.File(h5, "w") as handle:
        handle.create_dataset("a", shape=(4, 4), dtype="f4", external=[("/etc/hostname", 0, 64)])
    with pytest.raises(ModelError, match=r"preds\.h5: 'a' keeps its values in external file"):
        PredictionsSource(h5).predict(_sample())
    with h5py.File(h5, "w") as handle:
        handle["a"] = np.zeros(2, dtype=[("x", "f4"), ("y", "f4")])
    with pytest.raises(ModelError, match=r"preds\.h5: 'a' holds .* values, expected numbers"):
        PredictionsSource(h5).predict(_sample())


def test_prediction_npz_members_are_checked(tmp_path, monkeypatch):
    root = tmp_path / "preds"
    root.mkdir()
    np.savez(root / "a.npz", depth=np.ones((4, 4), np.float32), extra=np.ones((4, 4), np.float32))
    assert PredictionsSource(root).predict(_sample()).depth.shape == (4, 4)
    monkeypatch.setenv("DPBENCH_MAX_PIXELS", "20")
    with pytest.raises(ModelError, match=r"a\.npz.*all arrays together.*over the limit of 20"):
        PredictionsSource(root).predict(_sample())
    monkeypatch.delenv("DPBENCH_MAX_PIXELS")
    with zipfile.ZipFile(root / "a.npz", "w") as archive:
        archive.writestr("depth.npy", _npy_header((4, 4), "|O") + b"\0" * 128)
    with pytest.raises(ModelError, match=r"a\.npz: .*holds object values"):
        PredictionsSource(root).predict(_sample())


def test_scipy_is_the_only_mat_reader_and_writes_round_trip(tmp_path):
    # the checks must not refuse genuine files
    sunrgbd.write_allsplit(tmp_path / "allsplit.mat", ["/n/fs/sun3d/data/SUNRGBD/kv1/a/"], ["b"])
    assert sunrgbd.read_allsplit(tmp_path / "allsplit.mat")["alltest"] == ["b"]
    nyu.write_splits(tmp_path / "splits.mat", [1, 3], [2])
    assert nyu.read_splits(tmp_path / "splits.mat") == {"train": [1, 3], "test": [2]}
    assert scipy.io.whosmat(str(tmp_path / "splits.mat"))
