"""A :class:`DepthModel` around a plain Python callable or a torch ``nn.Module``.

This is what :func:`dpbench.evaluate` wraps a researcher's own model in, so that a function or a
network under training can be scored without writing a plug-in. It is registered nowhere: a
model object is handed to the runner directly (``dpbench.runner.evaluate``), and the run is
stored, resumed and reported like any other.

Calling conventions (also in the README, "Evaluate your own model"):

- **a callable** receives the image as an H×W×3 uint8 RGB numpy array and, if its signature has
  a ``focal_px`` parameter or a second positional parameter without a default, the focal length
  in pixels the protocol gives it (a float, or None when the model should estimate it);
- **an nn.Module** receives a float32 tensor of shape 1×3×H×W with values in [0, 1], on the
  module's device (or the ``device`` asked for), and runs in eval mode under ``torch.no_grad``;
  its training mode is restored afterwards;
- **batching** is declared with ``batch=True``: a callable then receives a list of images (and a
  list of focals), a module a B×3×H×W tensor of images of one size (images of other sizes go in
  separate calls). Modules batch by default, callables do not. The batch size is the run's
  ``batch_size``;
- **the output** may be a numpy array or torch tensor of shape H×W, 1×H×W, H×W×1 or 1×1×H×W (for
  a batch: B×H×W, B×1×H×W or a list), or a :class:`~dpbench.types.Prediction` (the way to return
  a focal-length estimate too). A prediction of another size but the image's aspect ratio is
  resampled to the ground truth by the runner, as for every model.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dpbench.errors import ModelError
from dpbench.models.base import DepthModel, check_output_kind, image_of
from dpbench.types import Prediction, Sample

#: Precisions a module can run in: the torch dtype of ``torch.autocast`` (None: plain fp32).
_AUTOCAST = {"fp32": None, "fp16": "float16", "bf16": "bfloat16"}


def is_torch_module(obj: Any) -> bool:
    """True for a ``torch.nn.Module`` (without importing torch when nobody else has)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _focal_style(function: Callable) -> str:
    """How ``function`` takes the focal length: ``keyword`` (a ``focal_px`` parameter),
    ``positional`` (a second positional parameter without a default) or ``none``. Optional
    parameters of other names are left alone: they are the function's own settings."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # builtins and C extensions without a signature
        return "none"
    if any(p.name == "focal_px" and p.kind is not p.VAR_POSITIONAL for p in parameters):
        return "keyword"
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    return "positional" if len(positional) >= 2 else "none"


def _default_name(model: Any) -> str:
    if is_torch_module(model) or not hasattr(model, "__name__"):
        return type(model).__name__
    return str(model.__name__)


class CallableModel(DepthModel):
    """A callable or ``nn.Module`` as a :class:`DepthModel` (conventions: the module docstring).

    ``name`` is what runs and reports call the model (default: the function's or class's name);
    give each checkpoint its own name (e.g. ``f"mynet-step{step}"``) so that an unfinished run of
    one checkpoint is never resumed with another. ``output_kind`` is one of
    :data:`~dpbench.types.OUTPUT_KINDS`; ``device`` (modules only) moves the module there first
    (None: leave it where it is); ``precision`` (modules only) ``fp16``/``bf16`` runs the module
    under ``torch.autocast`` (its output is converted to float32 before scoring).
    """

    def __init__(self, model: Any, *, output_kind: str = "metric_depth", name: str | None = None,
                 batch: bool | None = None, device: str | None = None, precision: str = "fp32"):
        if not callable(model):
            raise ModelError(f"the model must be a callable or a torch nn.Module, got {type(model).__name__}")
        self.model = model
        self.output_kind = check_output_kind(output_kind)
        self.name = str(name) if name else _default_name(model)
        self.is_module = is_torch_module(model)
        self.batch = self.is_module if batch is None else bool(batch)
        self.focal_style = _focal_style(model.forward if self.is_module else model)
        if precision not in _AUTOCAST:
            raise ModelError(f"precision must be one of {', '.join(_AUTOCAST)}, got {precision!r}")
        self.precision = precision
        self.device = None
        if self.is_module:
            if device is not None and device != "auto":
                model.to(device)
            elif device == "auto":
                from dpbench.models.device import resolve_device

                model.to(resolve_device("auto"))
            self.device = _module_device(model)

    # --- DepthModel -------------------------------------------------------------------------
    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        return self.predict_batch([sample_or_image], [focal_px])[0]

    def predict_batch(self, samples: Sequence[Sample | np.ndarray],
                      focal_px: Sequence[float | None] | None = None) -> list[Prediction]:
        """Predictions for several inputs: one call per batch when ``batch``, else one per image."""
        images = [image_of(s) for s in samples]
        focals = list(focal_px) if focal_px is not None else [None] * len(images)
        if len(focals) != len(images):
            raise ValueError(f"got {len(images)} inputs but {len(focals)} focal lengths")
        if self.is_module:
            return self._predict_module(images, focals)
        if self.batch:
            outputs = _split_batch(self._call(images, focals), len(images))
        else:
            outputs = [self._call(image, focal) for image, focal in zip(images, focals, strict=True)]
        return [self._prediction(out, focal) for out, focal in zip(outputs, focals, strict=True)]

    def describe(self) -> dict:
        record = super().describe()
        record.update(kind="python", callable=_qualified(self.model), batch=self.batch,
                      focal_input=self.focal_style, precision=self.precision)
        if self.device is not None:
            record["device"] = str(self.device)
        return record

    # --- helpers ----------------------------------------------------------------------------
    def _call(self, inputs: Any, focal: Any) -> Any:
        if self.focal_style == "keyword":
            return self.model(inputs, focal_px=focal)
        if self.focal_style == "positional":
            return self.model(inputs, focal)
        return self.model(inputs)

    def _predict_module(self, images: list[np.ndarray], focals: list) -> list[Prediction]:
        import torch

        groups: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            key = image.shape[:2] if self.batch else (index, -1)
            groups.setdefault(key, []).append(index)
        predictions: list[Prediction | None] = [None] * len(images)
        was_training = self.model.training
        self.model.eval()
        dtype = _AUTOCAST[self.precision]
        autocast = (torch.autocast(self.device.type, dtype=getattr(torch, dtype)) if dtype
                    else contextlib.nullcontext())
        try:
            with torch.no_grad(), autocast:
                for indices in groups.values():
                    stacked = np.stack([images[i] for i in indices])
                    x = torch.from_numpy(stacked).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
                    group_focals = [focals[i] for i in indices]
                    out = self._call(x, group_focals if self.batch else group_focals[0])
                    for i, piece in zip(indices, _split_batch(out, len(indices)), strict=True):
                        predictions[i] = self._prediction(piece, focals[i])
        finally:
            self.model.train(was_training)
        return [p for p in predictions if p is not None]

    def _prediction(self, out: Any, focal: float | None) -> Prediction:
        """One output as a Prediction; a focal that was given is recorded as the one used."""
        if isinstance(out, Prediction):
            prediction = out
        else:
            prediction = Prediction(depth=_depth_map(out))
        if focal is not None:
            if prediction.focal_px is not None and "focal_px_estimated" not in prediction.meta:
                prediction.meta["focal_px_estimated"] = prediction.focal_px
            prediction.focal_px = float(focal)
            prediction.meta["focal_source"] = "given"
        elif prediction.focal_px is not None:
            prediction.meta.setdefault("focal_source", "estimated")
        return prediction


def _module_device(module: Any):
    """The device of a module's first parameter or buffer (CPU for a module without any)."""
    import torch

    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def _qualified(model: Any) -> str:
    kind = type(model) if is_torch_module(model) or not hasattr(model, "__qualname__") else model
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', type(model).__name__)}"


def _as_numpy(out: Any) -> np.ndarray:
    if hasattr(out, "detach") and hasattr(out, "cpu"):  # a torch tensor
        out = out.detach().float().cpu().numpy()
    array = np.asarray(out)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ModelError(f"the model returned {type(out).__name__} of dtype {array.dtype}; expected a depth map "
                         "(numpy array or torch tensor) or a Prediction")
    return array


def _depth_map(out: Any) -> np.ndarray:
    """An H×W float32 map from an output of shape H×W, 1×H×W, H×W×1 or 1×1×H×W."""
    array = _as_numpy(out)
    shape = array.shape
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise ModelError(f"the model returned an array of shape {shape}; expected one depth map "
                         "(H×W, 1×H×W, H×W×1 or 1×1×H×W)")
    return array.astype(np.float32, copy=False)


def _split_batch(out: Any, count: int) -> list[Any]:
    """Per-image outputs of a batched call: a list/tuple of ``count`` items, or an array or tensor
    of shape B×H×W or B×1×H×W (a single H×W map when ``count`` is 1)."""
    if isinstance(out, (list, tuple)):
        items = list(out)
    elif isinstance(out, Prediction):
        items = [out]
    else:
        array = _as_numpy(out)
        if count == 1 and array.ndim == 2:
            items = [array]
        elif array.ndim in (3, 4) and array.shape[0] == count:
            items = list(array)
        else:
            raise ModelError(f"a batch of {count} images gave an output of shape {array.shape}; "
                             "expected B×H×W, B×1×H×W or a list of maps")
    if len(items) != count:
        raise ModelError(f"a batch of {count} images gave {len(items)} outputs")
    return items


__all__ = ["CallableModel", "is_torch_module"]
