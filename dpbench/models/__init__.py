"""Model wrappers and their registry.

A registry entry is a factory plus a card (:class:`ModelInfo`): output kind, what it needs
installed, whether it reads the ground truth, where its weights are looked up. Names are either
exact (``depthpro``, ``probe:gt``) or families written ``family:argument`` (``hf:<repo>``,
``predictions:<dir>``). Every module of this package registers on import; third parties add
models through the entry-point group ``dpbench.models`` (an entry point names a factory,
registered under the entry point's name, or a module that registers when imported).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

from dpbench._plugins import import_submodules, load_entry_points
from dpbench.errors import UnknownNameError
from dpbench.models.base import DepthModel, ModelOptionError, check_prediction

_NOT_WRAPPERS = {"base", "listing", "device", "hub_cache", "torchhub"}


@dataclass(frozen=True)
class ModelInfo:
    """The card of a registered model (or model family)."""

    name: str
    factory: Callable[..., DepthModel]
    output_kind: str
    description: str = ""
    family: bool = False
    extra: str | None = None
    requires: tuple[str, ...] = ()
    #: Import names of what the extra installs and the upstream code imports while loading (not
    #: checked at load: an ImportError there already names the extra). ``dpbench models`` lists an
    #: extra as installed only when these import too.
    extra_modules: tuple[str, ...] = ()
    reads_ground_truth: bool = False
    #: Returns the places the weights are looked up, each with whether a file is there
    #: (None when the question does not apply, e.g. a family reading any Hub repository).
    weights: Callable[[], list[tuple[str, bool | None]]] | None = field(default=None, compare=False)
    #: For a family: the argument used when the bare family name is given (``marigold``).
    default_arg: str | None = None
    #: For a family whose output kind depends on the argument: where it is decided
    #: (e.g. "the model config"); ``output_kind`` is then only the most common kind.
    kind_from: str | None = None


_REGISTRY: dict[str, ModelInfo] = {}
_loaded = False


def register_model(
    name: str,
    *,
    output_kind: str,
    description: str = "",
    family: bool = False,
    extra: str | None = None,
    requires: tuple[str, ...] = (),
    extra_modules: tuple[str, ...] = (),
    reads_ground_truth: bool = False,
    weights: Callable[[], list[tuple[str, bool | None]]] | None = None,
    default_arg: str | None = None,
    kind_from: str | None = None,
):
    """Decorator registering a factory ``f(arg=None, checkpoint=None, device='auto', precision='fp32', **options)``.

    For a family (``family=True``) the factory receives the text after ``name:`` as ``arg``;
    with ``default_arg`` the bare family name is accepted too and means ``name:<default_arg>``.
    """

    def decorate(factory):
        existing = _REGISTRY.get(name)
        if existing is not None and existing.factory is not factory:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelInfo(
            name=name, factory=factory, output_kind=output_kind, description=description,
            family=family, extra=extra, requires=tuple(requires), extra_modules=tuple(extra_modules),
            reads_ground_truth=reads_ground_truth, weights=weights,
            default_arg=default_arg, kind_from=kind_from,
        )
        return factory

    return decorate


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import_submodules(__name__, __path__, _NOT_WRAPPERS)
    for name, value, obj in load_entry_points("dpbench.models", "model"):
        if callable(obj) and name not in _REGISTRY:
            output_kind = getattr(obj, "output_kind", "metric_depth")
            register_model(name, output_kind=output_kind, description=f"plug-in {value}")(obj)


def model_infos() -> list[ModelInfo]:
    """Cards of every registered model, sorted by name."""
    _load_all()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_model_info(name: str) -> tuple[ModelInfo, str | None]:
    """The card serving ``name`` and the family argument (None for exact names)."""
    _load_all()
    if name in _REGISTRY:
        info = _REGISTRY[name]
        if not info.family:
            return info, None
        if info.default_arg is not None:
            return info, info.default_arg
        raise ModelOptionError(f"model family {name!r} needs an argument: {name}:<...>")
    family, sep, arg = name.partition(":")
    info = _REGISTRY.get(family)
    if sep and info is not None and info.family:
        if not arg:
            raise ModelOptionError(f"model family {family!r} needs an argument: {family}:<...>")
        return info, arg
    known = [f"{n}:<...>" if i.family else n for n, i in _REGISTRY.items()]
    known += [n for n, i in _REGISTRY.items() if i.family and i.default_arg is not None]
    raise UnknownNameError("model", name, known)


def load_model(
    name: str,
    checkpoint: str | None = None,
    device: str = "auto",
    precision: str = "fp32",
    **options,
) -> DepthModel:
    """Create the model registered as ``name`` (the contract in docs/ARCHITECTURE.md)."""
    from dpbench.models.device import check_device

    check_device(device)  # once for every model, probes included
    info, arg = get_model_info(name)
    for module in info.requires:
        if importlib.util.find_spec(module) is None:
            from dpbench.errors import MissingExtraError

            raise MissingExtraError(f"model {name!r}", info.extra or module, module)
    model = info.factory(arg=arg, checkpoint=checkpoint, device=device, precision=precision, **options)
    if not model.name:
        model.name = name
    return model


__all__ = ["DepthModel", "ModelInfo", "ModelOptionError", "check_prediction", "get_model_info", "load_model", "model_infos", "register_model"]
