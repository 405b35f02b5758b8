"""Step 1 of the order of operations: the focal length the model is given (``focal_mode``)."""

from __future__ import annotations

from dpbench.errors import DpbenchError
from dpbench.protocol import FOCAL_MODES, ProtocolError
from dpbench.types import Prediction, Sample

_IMAGE_PATH_KEYS = ("image_path", "rgb_path")


def focal_for_model(sample: Sample, focal_mode: str) -> tuple[float | None, str]:
    """The focal length (px) handed to the model for ``sample`` and its source name.

    ``estimated`` → (None, "estimated"). ``gt`` → the sample's GT focal. ``exif`` → the EXIF
    focal (``sample.meta['focal_px_exif']`` if the adapter provides it, else read from the source
    image named in ``sample.meta``). When the requested focal is not available the model
    estimates its own and the source says so ("estimated").
    """
    if focal_mode == "estimated":
        return None, "estimated"
    if focal_mode == "gt":
        return (sample.focal_px, "gt") if sample.focal_px is not None else (None, "estimated")
    if focal_mode == "exif":
        focal = exif_focal_px(sample)
        return (focal, "exif") if focal is not None else (None, "estimated")
    raise ProtocolError(f"focal_mode: unknown value {focal_mode!r}; choose one of {', '.join(FOCAL_MODES)}")


def exif_focal_px(sample: Sample) -> float | None:
    """The EXIF focal length in pixels of a sample's image (Depth Pro's 35 mm diagonal rule).

    ``sample.meta['focal_px_exif']`` when the adapter provides it, else read from the file named
    by ``sample.meta['image_path']``; scaled to the sample's width when the file's differs.
    """
    value = sample.meta.get("focal_px_exif")
    if value is not None:
        return float(value)
    path = next((sample.meta[k] for k in _IMAGE_PATH_KEYS if sample.meta.get(k)), None)
    if path is None:
        return None
    from dpbench.io.exif import focal_px_from_exif, read_exif_focal

    try:
        info = read_exif_focal(path)
        focal = focal_px_from_exif(info).focal_px
    except (OSError, ValueError, DpbenchError):
        return None
    if focal is None:
        return None
    if info.width and info.width != sample.width:
        focal = focal * sample.width / info.width
    return float(focal)


def focal_source_of(prediction: Prediction, given_source: str, given: bool) -> str:
    """The focal source a row records: the runner's mode when it gave one and the model used it
    (a model that ignores it says so in ``meta["focal_px_given_ignored"]``), else the model's."""
    if given and "focal_px_given_ignored" not in prediction.meta:
        return given_source
    return str(prediction.meta.get("focal_source") or ("estimated" if prediction.focal_px else ""))


__all__ = ["exif_focal_px", "focal_for_model", "focal_source_of"]
