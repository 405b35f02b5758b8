"""``predictions:<path>``: evaluate depth maps made elsewhere, one file per sample id.

``<path>`` is a folder, or one HDF5 file. Layout of a folder::

    <dir>/meta.json                       optional: {"output_kind": "relative_disparity",
                                                     "png_scale": 1000, "model": "..."}
    <dir>/scale.txt                       optional: the PNG scale as one number
    <dir>/focal.json                      optional: {"<sample_id>": focal_px, ...}
    <dir>/<dataset>/<sample_id>.<ext>     one file per sample, in a folder named after the dataset
    <dir>/<sample_id>.<ext>               ... or directly in <dir> when there is no such folder

A sample id maps to a relative path: ``/`` in an id makes subfolders (``alley_1/frame_0001`` →
``<dir>/sintel/alley_1/frame_0001.npy``); ``.<ext>`` is appended to the id, or replaces an image
suffix the id ends with (``IMG_1.jpg`` → ``IMG_1.jpg.npy`` or ``IMG_1.npy``). The dataset comes
from ``sample.meta['dataset']``, else from the runner's :meth:`begin_dataset` call, else the
``dataset=`` option; when ``<dir>/<dataset>/`` does not exist, files are looked up in ``<dir>``.
Two candidate files for one sample (e.g. ``.npy`` and ``.png``) are refused as ambiguous.

File kinds (values are the model's output as declared by ``output_kind``):

- ``.npy``: one H×W array (no pickles).
- ``.npz``: the array ``depth``, or the only array; an optional scalar ``focal_px``.
- ``.pfm``: one-channel PFM; its header scale only encodes byte order and is not applied.
- ``.png``: 16-bit single-channel; value = depth × scale, so depth = value / scale. The scale is
  the ``png_scale=`` option, else ``png_scale`` of the nearest ``meta.json``, else the nearest
  ``scale.txt`` (looked up from the file's folder up to ``<dir>``); no scale is an error.
  8-bit and colour PNGs are refused (visualisations, not data).
- ``.tif``/``.tiff``: float32 single-channel (or 16-bit, scaled like PNG).
- one ``.h5``/``.hdf5`` file (or ``<dir>/predictions.h5``, so a dpbench run folder saved with
  ``--save-predictions`` can be scored again): a dataset per sample at ``<dataset>/<sample_id>``
  or ``<sample_id>``, where ``/`` in ids are nested groups or percent-escaped (``%2F``, the run
  store's convention); optional attribute ``focal_px`` (NaN = none); the root attribute
  ``output_kind`` (else the first sample's) declares the kind.

The output kind is the ``output_kind=`` option, else ``meta.json``'s, else ``metric_depth``.
Per-sample focal lengths come from the file (npz key, HDF5 attribute) or ``focal.json`` next to
the dataset's files; they are the external model's estimates (``focal_source='estimated'``).

Focal-only folders: a folder (``<dir>`` or ``<dir>/<dataset>``) holding ``focal.json`` and no
prediction file at all is the output of a focal-length estimator without depth (Table 3's SPEC and
im2pcl). Each sample then gets a focal-only prediction (an empty depth map and
``meta['focal_only']``, see :func:`focal_only_prediction`): the ``focal`` task scores it, and
every depth task records an error row saying the folder holds only focal lengths.
A prediction whose shape differs from the image is refused naming the file, unless
``resize=True`` (then it is resized bilinearly to the image); non-finite values (and, for metric
depth, values <= 0) are refused naming the sample id and the file.
:func:`write_prediction` writes one sample in this layout (an ``.npz``) from another environment.

Hostile files are refused with a ModelError naming the file (:mod:`dpbench.io.limits`,
:mod:`dpbench.io.confine`): a declared size beyond ``$DPBENCH_MAX_PIXELS`` (64 Mpx), a symlinked
prediction file, ``<dir>/<dataset>`` folder or side file (``meta.json``, ``scale.txt``,
``focal.json``, ``predictions.h5``) whose target lies outside ``<path>`` (unless
``DPBENCH_ALLOW_SYMLINKS=1``), HDF5 external links and external storage, JSON nested too deeply.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import numpy as np

from dpbench.errors import DpbenchError, ModelError
from dpbench.io.confine import confined
from dpbench.io.limits import read_json, read_text
from dpbench.models import register_model
from dpbench.models.base import (
    DepthModel,
    ModelOptionError,
    check_output_kind,
    check_prediction,
    reject_unknown_options,
    require_sample,
)
from dpbench.types import Prediction, Sample

log = logging.getLogger(__name__)

#: File suffixes tried for each sample, in this order.
FILE_SUFFIXES = (".npy", ".npz", ".pfm", ".png", ".tif", ".tiff")
HDF5_SUFFIXES = (".h5", ".hdf5")
#: Image suffixes a sample id may end with, replaced by the prediction's suffix as a second choice.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".heic", ".ppm", ".exr")
META_KEYS = ("output_kind", "png_scale", "model", "notes")
#: Options of ``load_model("predictions:<path>", ...)``.
PREDICTION_OPTIONS = ("output_kind", "png_scale", "resize", "dataset")


class PredictionsSource(DepthModel):
    """Reads a prediction per sample from a folder of files or one HDF5 file (module doc)."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        output_kind: str | None = None,
        png_scale: float | None = None,
        resize: bool = False,
        dataset: str | None = None,
    ):
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise ModelError(f"predictions: {self.path} does not exist (expected a folder or an .h5 file)")
        if self.path.is_file() and self.path.suffix.lower() not in HDF5_SUFFIXES:
            raise ModelError(
                f"predictions: {self.path} is a file but not HDF5 ({', '.join(HDF5_SUFFIXES)}); "
                "pass a folder of per-sample files or one HDF5 file"
            )
        self.hdf5: Path | None = None
        if self.path.is_file():
            self.hdf5, self.root = self.path, self.path.parent
        else:
            self.root = self.path
            for name in ("predictions.h5", "predictions.hdf5"):
                if (self.path / name).is_file():
                    self.hdf5 = confined(self.path / name, self.root, "predictions file", ModelError)
                    break
        self.meta_json = self._read_meta_json(self.root) if self.hdf5 is None else {}
        declared = output_kind or self.meta_json.get("output_kind") or self._hdf5_output_kind()
        self.output_kind = check_output_kind(declared or "metric_depth")
        if png_scale is not None:
            png_scale = _positive_scale(png_scale, "the png_scale option")
        self.png_scale = png_scale
        self.resize = bool(resize)
        self.default_dataset = dataset
        self._dataset: str | None = None
        self._focal_tables: dict[Path, dict[str, float]] = {}
        self._focal_only_dirs: dict[Path, bool] = {}
        self._scales: dict[Path, float | None] = {}
        self._hdf5_names: dict[str, dict[str, str]] = {}
        self._warned_given_focal = False

    # -- the DepthModel interface -------------------------------------------------------
    def begin_dataset(self, dataset: str) -> None:
        self._dataset = dataset

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        sample = require_sample(sample_or_image, self.name or "predictions")
        dataset = sample.meta.get("dataset") or self._dataset or self.default_dataset
        if self.hdf5 is not None:
            array, focal, where = self._read_hdf5(sample.id, dataset)
        else:
            array, focal, where = self._read_file(sample.id, dataset)
        if array is None:
            return focal_only_prediction(focal, where)
        depth, meta = self._fit_to_image(array, sample, where)
        meta["prediction_file"] = where
        if focal is not None:
            meta["focal_source"] = "estimated"
        if focal_px is not None:
            meta["focal_px_given_ignored"] = float(focal_px)
            if not self._warned_given_focal:
                log.warning("%s: predictions are fixed; a given focal length cannot change them", self.name)
                self._warned_given_focal = True
        prediction = Prediction(depth=depth, focal_px=focal, meta=meta)
        try:
            check_prediction(prediction, sample, self.output_kind)
        except ModelError as exc:
            raise ModelError(f"{exc} (file {where})") from None
        return prediction

    def describe(self) -> dict:
        return {
            **super().describe(),
            "source": str(self.path),
            "format": "hdf5" if self.hdf5 is not None else "files",
            "png_scale": self.png_scale if self.png_scale is not None else self.meta_json.get("png_scale"),
            "resize": self.resize,
            "declared_by": self.meta_json.get("model"),
        }

    # -- folders of files ---------------------------------------------------------------
    def _candidate_dirs(self, dataset: str | None) -> list[Path]:
        if dataset and (self.root / dataset).is_dir():
            return [confined(self.root / dataset, self.root, "dataset folder", ModelError)]
        return [self.root]

    def _read_file(self, sample_id: str, dataset: str | None) -> tuple[np.ndarray | None, float | None, str]:
        """The sample's array, focal and file; the array is None in a focal-only folder."""
        relative = _relative_path(sample_id)
        tried: list[str] = []
        for folder in self._candidate_dirs(dataset):
            if self._focal_only(folder):  # no entry: no estimate (the focal task says so)
                return None, self._focal_table(folder).get(sample_id), str(folder / "focal.json")
            found = []
            for stem in _stems(relative):
                for suffix in FILE_SUFFIXES:
                    candidate = folder / (stem + suffix)
                    tried.append(str(candidate))
                    if candidate.is_file():
                        found.append(confined(candidate, self.root, "prediction file", ModelError))
            if len(found) > 1:
                raise ModelError(
                    f"sample {sample_id!r}: ambiguous predictions, found "
                    + ", ".join(str(p) for p in found) + "; keep one file per sample"
                )
            if found:
                path = found[0]
                array, focal = self._load_array(path, sample_id)
                if focal is None:
                    focal = self._focal_table(folder).get(sample_id)
                return array, focal, str(path)
        shown = ", ".join(tried[: len(FILE_SUFFIXES)])
        raise ModelError(
            f"sample {sample_id!r}: no prediction file found (tried {shown}"
            + (f" and {len(tried) - len(FILE_SUFFIXES)} more" if len(tried) > len(FILE_SUFFIXES) else "")
            + f"); dataset={dataset!r}, layout <dir>/<dataset>/<sample_id>.<npy|npz|pfm|png|tif>"
        )

    def _load_array(self, path: Path, sample_id: str) -> tuple[np.ndarray, float | None]:
        from dpbench.io.npy import load_npy

        suffix = path.suffix.lower()
        try:
            if suffix == ".npy":
                return load_npy(path, "prediction", ModelError), None
            if suffix == ".npz":
                return _read_npz(path)
            if suffix == ".pfm":
                from dpbench.io.pfm import read_pfm

                array, _ = read_pfm(path)
                return array, None
            return self._read_integer_image(path), None
        except (DpbenchError, OSError, ValueError, EOFError) as exc:
            problem = str(exc).removeprefix(f"{path}: ")
            raise ModelError(f"sample {sample_id!r}: cannot read prediction {path}: {problem}") from None

    def _read_integer_image(self, path: Path) -> np.ndarray:
        import cv2

        from dpbench.io.image import declared_size

        declared_size(path, "prediction image", ModelError)
        array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if array is None:
            raise ValueError("not a readable image file")
        if array.ndim != 2:
            raise ValueError(f"expected a single-channel image, got {array.shape[2]} channels")
        if np.issubdtype(array.dtype, np.floating):
            return array
        if array.dtype != np.uint16:
            raise ValueError(
                f"{array.dtype} image: predictions must be 16-bit (value = depth × scale) "
                "or float; 8-bit images lose too much precision"
            )
        return array.astype(np.float64) / self._png_scale_for(path)

    def _png_scale_for(self, path: Path) -> float:
        if self.png_scale is not None:
            return self.png_scale
        folder = path.parent
        while True:
            scale = self._scale_in(folder)
            if scale is not None:
                return scale
            if folder == self.root or self.root not in folder.parents:
                break
            folder = folder.parent
        raise ModelError(
            "16-bit predictions need a scale (depth = value / scale): pass png_scale=, "
            f"or put {{\"png_scale\": N}} in {self.root / 'meta.json'} or N in {self.root / 'scale.txt'}"
        )

    def _scale_in(self, folder: Path) -> float | None:
        if folder not in self._scales:
            scale = None
            meta = self._read_meta_json(folder) if folder != self.root else self.meta_json
            if "png_scale" in meta:
                scale = _positive_scale(meta["png_scale"], f"png_scale in {folder / 'meta.json'}")
            elif (folder / "scale.txt").is_file():
                path = confined(folder / "scale.txt", self.root, "scale file", ModelError)
                text = read_text(path, "scale file", error=ModelError, errors="replace").strip()
                try:
                    value = float(text)
                except ValueError:
                    raise ModelError(f"{folder / 'scale.txt'}: expected one number, found {text[:40]!r}") from None
                scale = _positive_scale(value, str(folder / "scale.txt"))
            self._scales[folder] = scale
        return self._scales[folder]

    def _focal_only(self, folder: Path) -> bool:
        """True when ``folder`` has a ``focal.json`` and no prediction file anywhere below it."""
        if folder not in self._focal_only_dirs:
            suffixes = set(FILE_SUFFIXES)
            self._focal_only_dirs[folder] = (folder / "focal.json").is_file() and not any(
                path.suffix.lower() in suffixes and path.is_file() for path in folder.rglob("*"))
        return self._focal_only_dirs[folder]

    def _focal_table(self, folder: Path) -> dict[str, float]:
        if folder not in self._focal_tables:
            table: dict[str, float] = {}
            path = folder / "focal.json"
            if path.is_file():
                confined(path, self.root, "focal table", ModelError)
                raw = read_json(path, "focal table", error=ModelError, invalid="invalid JSON")
                if not isinstance(raw, dict):
                    raise ModelError(f"{path}: expected an object mapping sample ids to focal lengths")
                table = {str(k): _focal(v, f"{path} [{k!r}]") for k, v in raw.items()}
            self._focal_tables[folder] = table
        return self._focal_tables[folder]

    def _read_meta_json(self, folder: Path) -> dict:
        path = folder / "meta.json"
        if not path.is_file():
            return {}
        confined(path, self.root, "meta.json", ModelError)
        meta = read_json(path, "meta.json", error=ModelError, invalid="invalid JSON")
        if not isinstance(meta, dict):
            raise ModelError(f"{path}: expected a JSON object with keys among {META_KEYS}")
        unknown = sorted(set(meta) - set(META_KEYS))
        if unknown:
            log.warning("%s: ignoring unknown keys %s (known: %s)", path, unknown, ", ".join(META_KEYS))
        if "output_kind" in meta:
            try:
                check_output_kind(meta["output_kind"])
            except ValueError as exc:
                raise ModelError(f"{path}: {exc}") from None
        return meta

    # -- one HDF5 file ------------------------------------------------------------------
    def _hdf5_output_kind(self) -> str | None:
        """The root attribute ``output_kind``, else that of the first sample dataset carrying one."""
        if self.hdf5 is None:
            return None
        import h5py

        found: list = []

        def first_kind(name, node):
            if isinstance(node, h5py.Dataset) and "output_kind" in node.attrs:
                found.append(node.attrs["output_kind"])
                return True
            return None

        try:
            with h5py.File(self.hdf5, "r") as handle:
                kind = handle.attrs.get("output_kind")
                if kind is None:
                    handle.visititems(first_kind)
                    kind = found[0] if found else None
        except OSError as exc:
            raise ModelError(f"{self.hdf5}: cannot open as HDF5: {exc}") from None
        if isinstance(kind, bytes):
            kind = kind.decode()
        return str(kind) if kind else None

    def _read_hdf5(self, sample_id: str, dataset: str | None) -> tuple[np.ndarray, float | None, str]:
        import h5py

        from dpbench.io.hdf5 import checked_dataset, lookup, read_dataset

        relative = _relative_path(sample_id)
        keys = ([f"{dataset}/{relative}"] if dataset else []) + [relative]
        try:
            with h5py.File(self.hdf5, "r") as handle:
                for key in keys:
                    node = lookup(handle, key, self.hdf5, ModelError)
                    if isinstance(node, h5py.Dataset):
                        break
                else:
                    key = self._escaped_key(handle, sample_id, dataset)
                    node = lookup(handle, key, self.hdf5, ModelError) if key else None
                if not isinstance(node, h5py.Dataset):
                    raise ModelError(
                        f"sample {sample_id!r}: no dataset {' or '.join('/' + k for k in keys)} "
                        f"(nor a percent-escaped one) in {self.hdf5}"
                    )
                where = f"{self.hdf5}:/{key}"
                node = checked_dataset(node, self.hdf5, key, ModelError)
                focal = node.attrs.get("focal_px")
                if focal is not None and not (np.ndim(focal) == 0 and np.isnan(focal)):
                    focal = _focal(focal, where + " attribute focal_px")
                else:
                    focal = None
                return read_dataset(node, self.hdf5, key, "prediction", ModelError), focal, where
        except DpbenchError:
            raise
        except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
            raise ModelError(f"{self.hdf5}: cannot read sample {sample_id!r} ({exc})") from None

    def _escaped_key(self, handle, sample_id: str, dataset: str | None) -> str | None:
        """The path of ``sample_id`` when names are percent-escaped (``/`` as ``%2F``, as
        dpbench's run store writes them), found by unescaping the names present."""
        group_key = ""
        if dataset:
            top = self._unescaped_names(handle, "")
            group_key = top.get(dataset, "")
        names = self._unescaped_names(handle, group_key)
        name = names.get(sample_id)
        if name is None:
            return None
        return f"{group_key}/{name}" if group_key else name

    def _unescaped_names(self, handle, group_key: str) -> dict[str, str]:
        import h5py

        from dpbench.io.hdf5 import lookup

        if group_key not in self._hdf5_names:
            group = lookup(handle, group_key, self.hdf5, ModelError) if group_key else handle
            names = list(group.keys()) if isinstance(group, h5py.Group) else []
            self._hdf5_names[group_key] = {unquote(name): name for name in names}
        return self._hdf5_names[group_key]

    # -- shape --------------------------------------------------------------------------
    def _fit_to_image(self, array: np.ndarray, sample: Sample, where: str) -> tuple[np.ndarray, dict]:
        array = np.asarray(array)
        if array.ndim == 3 and 1 in (array.shape[0], array.shape[-1]):
            array = array.reshape(array.shape[1:] if array.shape[0] == 1 else array.shape[:2])
        if array.ndim != 2:
            raise ModelError(f"sample {sample.id!r}: {where}: expected an H×W array, got shape {array.shape}")
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise ModelError(f"sample {sample.id!r}: {where}: expected numbers, got dtype {array.dtype}")
        array = array.astype(np.float32, copy=False)
        meta: dict = {"native_hw": tuple(int(n) for n in array.shape)}
        target = (sample.height, sample.width)
        if array.shape != target:
            if not self.resize:
                hint = " (transposed?)" if array.shape == target[::-1] else ""
                raise ModelError(
                    f"sample {sample.id!r}: {where} has shape {array.shape[0]}×{array.shape[1]}{hint} "
                    f"but the image is {target[0]}×{target[1]}; pass resize=True to resize bilinearly"
                )
            import cv2

            array = cv2.resize(array, (target[1], target[0]), interpolation=cv2.INTER_LINEAR)
            meta["resized"] = True
        return array, meta


def focal_only_prediction(focal_px: float | None, where: str) -> Prediction:
    """A prediction carrying only a focal length (empty 0×0 depth, ``meta['focal_only']``); None
    when the focal-only folder has no entry for the sample (the focal task then records an error).

    :func:`dpbench.models.check_prediction` refuses it for depth tasks with a message naming
    ``where``; the focal task reads only ``focal_px``.
    """
    meta = {"focal_only": True, "focal_source": "estimated", "prediction_file": where}
    return Prediction(depth=np.zeros((0, 0), np.float32), focal_px=focal_px, meta=meta)


def write_prediction(
    root: str | os.PathLike,
    sample_id: str,
    depth: np.ndarray,
    *,
    dataset: str | None = None,
    focal_px: float | None = None,
) -> Path:
    """Write one prediction where ``predictions:<root>`` finds it: ``<root>/<dataset>/<id>.npz``.

    For exporting a model's outputs from another environment; ``depth`` is stored as float32
    under ``depth`` (and ``focal_px`` when given). Returns the file written.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"write_prediction: expected an H×W float array, got {depth.shape} {depth.dtype}")
    folder = Path(root) / dataset if dataset else Path(root)
    path = folder / (_relative_path(sample_id) + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"depth": depth.astype(np.float32)}
    if focal_px is not None:
        arrays["focal_px"] = np.float64(_focal(focal_px, f"write_prediction({sample_id!r})"))
    np.savez(path, **arrays)
    return path


def _relative_path(sample_id: str) -> str:
    """The id as a safe relative path (no absolute paths, no ``..``)."""
    path = PurePosixPath(sample_id)
    if path.is_absolute() or ".." in path.parts or "\\" in sample_id:
        raise ModelError(f"sample id {sample_id!r} cannot be mapped to a file below the predictions folder")
    return str(path)


def _stems(relative: str) -> list[str]:
    """File-name stems tried for an id: the id itself, then without its image suffix."""
    stems = [relative]
    suffix = PurePosixPath(relative).suffix
    if suffix.lower() in IMAGE_SUFFIXES:
        stems.append(relative[: -len(suffix)])
    return stems


def _read_npz(path: Path) -> tuple[np.ndarray, float | None]:
    from dpbench.io.npy import load_npz

    archive = load_npz(path, "prediction archive", ModelError)
    names = list(archive)
    arrays = [n for n in names if n != "focal_px"]
    if "depth" in names:
        key = "depth"
    elif len(arrays) == 1:
        key = arrays[0]
    else:
        raise ModelError(f"{path}: expected an array named 'depth' or a single array, found {names}")
    focal = _focal(archive["focal_px"], f"{path} [focal_px]") if "focal_px" in names else None
    return archive[key], focal


def _focal(value, where: str) -> float:
    try:
        focal = float(np.asarray(value).reshape(()))
    except (TypeError, ValueError):
        raise ModelError(f"{where}: focal length must be one number, got {value!r}") from None
    if not (math.isfinite(focal) and focal > 0):
        raise ModelError(f"{where}: focal length must be a positive finite number of pixels, got {focal}")
    return focal


def _positive_scale(value, where: str) -> float:
    try:
        scale = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: the PNG scale must be a number, got {value!r}") from None
    if not (math.isfinite(scale) and scale > 0):
        raise ModelError(f"{where}: the PNG scale must be a positive number, got {scale}")
    return scale


@register_model(
    "predictions",
    output_kind="metric_depth",
    family=True,
    description="depth made elsewhere: <dir>/<dataset>/<id>.npy|npz|pfm|png|tif or one .h5 "
    "(metric_depth unless declared)",
    kind_from="meta.json",
)
def load_predictions(arg=None, checkpoint=None, device="auto", precision="fp32", **options) -> PredictionsSource:
    """The ``predictions:<path>`` family; options ``output_kind``, ``png_scale``, ``resize``,
    ``dataset`` (see the module doc for the layout)."""
    if checkpoint is not None:
        raise ModelOptionError(f"predictions:{arg} reads files and takes no checkpoint (got {checkpoint!r})")
    reject_unknown_options(f"predictions:{arg}", options, PREDICTION_OPTIONS)
    model = PredictionsSource(arg, **options)
    model.name = f"predictions:{arg}"
    return model
