"""``depth-anything-metric:<variant>``: Depth Anything's metric fine-tunes, routed per dataset.

The paper (docs/baselines_depth_anything.md) ran the indoor metric model on indoor datasets and the
outdoor one on outdoor datasets. Variants:

==============  ===========================================================  ===========
variant         network                                                      max depth
==============  ===========================================================  ===========
``v2-indoor``   ViT-L fine-tuned on Hypersim (transformers port)             20 m
``v2-outdoor``  ViT-L fine-tuned on Virtual KITTI 2 (transformers port)      80 m
``v2``          routed: ``v2-indoor`` or ``v2-outdoor`` per dataset          (as routed)
``v1-indoor``   v1 ZoeDepth fine-tune on NYUv2 (authors' clone, -o repo=)    10 m
``v1-outdoor``  v1 ZoeDepth fine-tune on KITTI (authors' clone, -o repo=)    80 m
``v1``          routed: ``v1-indoor`` or ``v1-outdoor`` per dataset          (as routed)
==============  ===========================================================  ===========

Routing: the dataset's ``domain`` (``datasets/<name>.toml``) picks the model; ``mixed`` datasets
get the outdoor model unless told otherwise (:data:`DEFAULT_ROUTES`, the reason is in the docs).
Options ``indoor=``, ``outdoor=``, ``mixed=`` (each ``indoor`` or ``outdoor``) change the model
per domain and ``route=<dataset>:<indoor|outdoor>,...`` per dataset. Every prediction carries
``meta["model_variant"]`` (copied into the run's rows); ``describe()`` records the rule.

The v1 models run through the authors' code (:mod:`dpbench.models.depth_anything_v1_metric`).
For v2, pre- and post-processing are upstream's (Depth-Anything-V2 ``metric_depth/depth_anything_v2/dpt.py``
``image2tensor`` / ``infer_image``), not the transformers processor's: RGB/255, bicubic resize
keeping the aspect ratio so that both sides are at least ``input_size`` (518), each side rounded to
a multiple of 14 (:func:`network_input_size`), ImageNet normalisation; the metric map is resized to
the image bilinearly with ``align_corners=True``. The transformers port's config must carry the
variant's ``max_depth`` (its default is 1 m, which would silently mis-scale every prediction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpbench.errors import ModelError
from dpbench.models import register_model
from dpbench.models.base import DepthModel, ModelOptionError, image_of, reject_unknown_options
from dpbench.models.hf import HFDepthModel
from dpbench.models.hub_cache import hub_cache_has
from dpbench.types import Prediction, Sample

FAMILY = "depth-anything-metric"
#: Upstream's ImageNet normalisation (dpt.py ``image2tensor``).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Upstream's ``input_size`` default and the ViT patch size every side is a multiple of.
INPUT_SIZE = 518
PATCH = 14
MODEL_DOMAINS = ("indoor", "outdoor")
#: Which model (indoor/outdoor) serves the datasets of each scene domain by default.
DEFAULT_ROUTES = {"indoor": "indoor", "outdoor": "outdoor", "mixed": "outdoor"}


@dataclass(frozen=True)
class Variant:
    """One published metric checkpoint: where it lives and the depth its head is scaled to."""

    name: str
    version: str
    domain: str
    repo: str
    max_depth: float
    trained_on: str


VARIANTS = {
    v.name: v
    for v in (
        Variant("v2-indoor", "v2", "indoor", "depth-anything/Depth-Anything-V2-Metric-Indoor-Large-hf",
                20.0, "Hypersim"),
        Variant("v2-outdoor", "v2", "outdoor", "depth-anything/Depth-Anything-V2-Metric-Outdoor-Large-hf",
                80.0, "Virtual KITTI 2"),
        Variant("v1-indoor", "v1", "indoor", "LiheYoung/Depth-Anything (Space) "
                "checkpoints_metric_depth/depth_anything_metric_depth_indoor.pt", 10.0, "NYUv2"),
        Variant("v1-outdoor", "v1", "outdoor", "LiheYoung/Depth-Anything (Space) "
                "checkpoints_metric_depth/depth_anything_metric_depth_outdoor.pt", 80.0, "KITTI"),
    )
}
ROUTED = ("v1", "v2")


def network_input_size(height: int, width: int, input_size: int = INPUT_SIZE) -> tuple[int, int]:
    """Upstream's "lower_bound" resize: one scale for both sides so that each is >= ``input_size``,
    then each side rounded to a multiple of 14 (up when rounding would go below ``input_size``)."""
    scale = max(input_size / height, input_size / width)

    def side(value: float) -> int:
        rounded = int(np.round(value / PATCH) * PATCH)
        return int(np.ceil(value / PATCH) * PATCH) if rounded < input_size else rounded

    return side(scale * height), side(scale * width)


def network_input(image: np.ndarray, input_size: int = INPUT_SIZE) -> np.ndarray:
    """The 3×h×w float32 array upstream's ``image2tensor`` feeds the network for an RGB uint8 image."""
    import cv2

    height, width = network_input_size(*image.shape[:2], input_size)
    scaled = image.astype(np.float64) / 255.0
    resized = cv2.resize(scaled, (width, height), interpolation=cv2.INTER_CUBIC)
    normalised = (resized - np.asarray(IMAGENET_MEAN)) / np.asarray(IMAGENET_STD)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)


def check_metric_config(variant: Variant, source: str, config) -> None:
    """A ModelError unless ``config`` is a Depth Anything metric model scaled to the variant's
    ``max_depth`` (transformers defaults to 1 m when a config does not say)."""
    model_type = getattr(config, "model_type", None)
    kind = getattr(config, "depth_estimation_type", None)
    if model_type != "depth_anything" or kind != "metric":
        raise ModelError(f"{FAMILY}:{variant.name}: {source} is a {model_type!r} model with "
                         f"depth_estimation_type={kind!r}, not a Depth Anything metric model")
    max_depth = getattr(config, "max_depth", None)
    if max_depth is None or float(max_depth) != variant.max_depth:
        raise ModelError(f"{FAMILY}:{variant.name}: {source} has max_depth={max_depth!r} in its config "
                         f"but the {variant.trained_on} model's head is scaled to {variant.max_depth:g} m")


def load_metric_config(variant: Variant, source: str):
    """The checked transformers config of a variant (a small file: fetched, or read from the cache
    when offline), so that a routed run fails before its first sample, not halfway."""
    from dpbench.models.hf import _load_failure_message, import_transformers
    from dpbench.models.hub_cache import is_offline

    transformers = import_transformers(f"model '{FAMILY}:{variant.name}'")
    try:
        config = transformers.AutoConfig.from_pretrained(source, local_files_only=is_offline())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{FAMILY}:{variant.name}: " + _load_failure_message(source, exc)) from None
    check_metric_config(variant, source, config)
    return config


class MetricNetwork(HFDepthModel):
    """One Depth Anything v2 metric checkpoint through transformers, with upstream's pre/post."""

    def __init__(self, variant: Variant, source: str, *, device: str, precision: str,
                 input_size: int = INPUT_SIZE, batch_size: int = 8):
        super().__init__(source, device=device, precision=precision, batch_size=batch_size)
        self.variant = variant
        self.input_size = int(input_size)
        check_metric_config(variant, source, self.config)

    def _forward(self, images: list[np.ndarray]):
        import torch

        batch = torch.from_numpy(np.stack([network_input(image, self.input_size) for image in images]))
        autocast = self.dtype != torch.float32
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.dtype, enabled=autocast):
            outputs = self.model(pixel_values=batch.to(self.device))
        raw = outputs.predicted_depth.float()
        if raw.ndim == 4 and raw.shape[1] == 1:
            raw = raw[:, 0]
        return raw, None

    def _postprocess(self, raw, height: int, width: int):
        import torch.nn.functional as F

        return F.interpolate(raw[:, None], size=(height, width), mode="bilinear", align_corners=True)[:, 0]

    def describe(self) -> dict:
        return {**super().describe(), "variant": self.variant.name, "input_size": self.input_size,
                "preprocessing": "upstream image2tensor (lower_bound, multiple of 14, bicubic, ImageNet)"}


def parse_route(value) -> dict[str, str]:
    """``"sintel:outdoor,booster:indoor"`` (or a dict) as {dataset: indoor|outdoor}."""
    if isinstance(value, dict):
        pairs = list(value.items())
    else:
        pairs = []
        for item in str(value).split(","):
            dataset, sep, domain = item.strip().partition(":")
            if not sep or not dataset:
                raise ModelOptionError(f"{FAMILY}: route= expects <dataset>:<indoor|outdoor>,..., got {item!r}")
            pairs.append((dataset.strip(), domain.strip()))
    return {str(d): _model_domain(m, f"route for {d}") for d, m in pairs}


def _model_domain(value, what: str) -> str:
    if value not in MODEL_DOMAINS:
        raise ModelOptionError(f"{FAMILY}: {what} must be one of {MODEL_DOMAINS}, got {value!r}")
    return value


class RoutedDepthAnything(DepthModel):
    """Depth Anything metric: the indoor or outdoor network per dataset, loaded when first needed."""

    output_kind = "metric_depth"

    def __init__(self, version: str, *, fixed: str | None = None, device: str = "auto",
                 precision: str = "fp32", input_size: int = INPUT_SIZE, batch_size: int = 8,
                 repos: dict[str, str] | None = None, routes: dict[str, str] | None = None,
                 per_dataset: dict[str, str] | None = None):
        self.version = version
        self.fixed = fixed
        self.device, self.precision = device, precision
        self.input_size, self.batch_size = int(input_size), int(batch_size)
        self.repos = {d: VARIANTS[f"{version}-{d}"].repo for d in MODEL_DOMAINS} | (repos or {})
        self.routes = DEFAULT_ROUTES | (routes or {})
        self.per_dataset = dict(per_dataset or {})
        self.variant_by_dataset: dict[str, str] = {}
        self._networks: dict[str, MetricNetwork] = {}
        self._current: str | None = fixed
        self.revisions: dict[str, str | None] = {}
        if fixed is not None:
            self._network(fixed)  # a fixed variant loads now: a broken checkpoint fails before the run
        else:
            self._check_sources()

    def _check_sources(self) -> None:
        """Both configs now (max_depth checked, revision recorded); the networks when needed."""
        for domain in MODEL_DOMAINS:
            config = load_metric_config(VARIANTS[f"{self.version}-{domain}"], self.repos[domain])
            self.revisions[domain] = getattr(config, "_commit_hash", None)

    def variant_for(self, dataset: str) -> tuple[str, str]:
        """The model domain (indoor/outdoor) routed to ``dataset`` and why."""
        if self.fixed is not None:
            return self.fixed, "fixed variant"
        if dataset in self.per_dataset:
            return self.per_dataset[dataset], "route= option"
        from dpbench.datasets.base import dataset_domain

        domain = dataset_domain(dataset)  # "mixed" for a dataset without a spec (a plug-in)
        return self.routes[domain], f"dataset domain {domain}"

    def begin_dataset(self, dataset: str) -> None:
        self._current, _ = self.variant_for(dataset)
        self.variant_by_dataset[dataset] = f"{self.version}-{self._current}"

    def _network(self, model_domain: str) -> MetricNetwork:
        if model_domain not in self._networks:
            if self._networks:  # one ViT-L at a time: free the other before loading
                self._networks.clear()
            variant = VARIANTS[f"{self.version}-{model_domain}"]
            self._networks[model_domain] = MetricNetwork(
                variant, self.repos[model_domain], device=self.device, precision=self.precision,
                input_size=self.input_size, batch_size=self.batch_size)
        return self._networks[model_domain]

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        return self.predict_batch([sample_or_image], [focal_px])[0]

    def predict_batch(self, samples, focal_px=None) -> list[Prediction]:
        datasets = {s.meta.get("dataset") for s in samples if isinstance(s, Sample)} - {None}
        if self._current is None and len(datasets) == 1:  # called outside the runner with Samples
            self.begin_dataset(datasets.pop())
        if self._current is None:
            raise ModelError(f"{self.name}: routed per dataset, but no dataset was announced "
                             f"(call begin_dataset(name) first, or use {FAMILY}:{self.version}-indoor/-outdoor)")
        network = self._network(self._current)
        images = [image_of(s) for s in samples]
        predictions = network.predict_batch(images, focal_px)
        for prediction in predictions:
            prediction.meta.update(model_variant=f"{self.version}-{self._current}",
                                   hub_repo=self.repos[self._current])
        return predictions

    def describe(self) -> dict:
        record = {
            **super().describe(),
            "family": FAMILY,
            "route": "transformers",
            "version": self.version,
            "repos": {f"{self.version}-{d}": r for d, r in self.repos.items()},
            "revisions": {f"{self.version}-{d}": r for d, r in self.revisions.items()},
            "max_depth": {f"{self.version}-{d}": VARIANTS[f"{self.version}-{d}"].max_depth for d in MODEL_DOMAINS},
            "input_size": self.input_size,
            "preprocessing": "upstream image2tensor (lower_bound, multiple of 14, bicubic, ImageNet); "
                             "bilinear align_corners=True to the image",
        }
        if self.fixed is not None:
            record["variant"] = f"{self.version}-{self.fixed}"
            network = self._networks.get(self.fixed)
            if network is not None:
                record["revisions"] = {record["variant"]: network.describe().get("revision")}
                record["parameters"] = network.n_parameters
        else:
            record["routing"] = {"by_domain": dict(self.routes), "by_dataset": dict(self.per_dataset),
                                 "rule": "dataset domain from datasets/<name>.toml; route= overrides"}
        return record


def _routing_options(options: dict) -> tuple[dict[str, str], dict[str, str]]:
    """Pop ``indoor=``/``outdoor=``/``mixed=`` and ``route=`` from ``options``: (routes, per_dataset)."""
    routes = {domain: _model_domain(options.pop(domain), f"{domain}=")
              for domain in DEFAULT_ROUTES if domain in options}
    per_dataset = parse_route(options.pop("route")) if "route" in options else {}
    return routes, per_dataset


def _weights() -> list[tuple[str, bool | None]]:
    places = []
    for variant in VARIANTS.values():
        if variant.version == "v2":
            places.append((f"Hub cache: {variant.repo}", hub_cache_has(variant.repo, "config.json")))
    from dpbench.models.depth_anything_v1_metric import weights_places

    return places + weights_places()


@register_model(
    FAMILY,
    output_kind="metric_depth",
    family=True,
    default_arg="v2",
    extra="hf",
    requires=("transformers",),
    description="Depth Anything metric (v2 ViT-L indoor/outdoor; v1 ZoeDepth NYU/KITTI from a clone, "
                "-o repo=; :v1/:v2 route per dataset domain)",
    weights=_weights,
)
def load_depth_anything_metric(arg=None, checkpoint=None, device="auto", precision="fp32",
                               **options) -> RoutedDepthAnything:
    """The family factory: ``:v2`` routed, ``:v2-indoor`` / ``:v2-outdoor`` fixed (module doc)."""
    name = f"{FAMILY}:{arg}"
    if arg not in VARIANTS and arg not in ROUTED:
        raise ModelOptionError(f"{name}: unknown variant; known: {', '.join([*ROUTED, *VARIANTS])}")
    version, _, fixed = arg.partition("-")
    if version == "v1":  # the authors' ZoeDepth code from a clone (its own module)
        from dpbench.models.depth_anything_v1_metric import load_v1

        return load_v1(name, fixed or None, checkpoint, device, precision, options, _routing_options)
    routing = ("indoor", "outdoor", "mixed", "route", "indoor_repo", "outdoor_repo")
    accepted = ("input_size", "batch_size") + (("repo",) if fixed else routing)
    reject_unknown_options(name, options, accepted)
    repo = options.pop("repo", None)
    repo = checkpoint or repo
    if checkpoint and not fixed:
        raise ModelOptionError(f"{name}: routed between two checkpoints; pass indoor_repo=/outdoor_repo= "
                               "(Hub id or local folder) instead of one checkpoint")
    repos = {d: options.pop(f"{d}_repo") for d in MODEL_DOMAINS if f"{d}_repo" in options}
    if fixed and repo:
        repos[fixed] = str(repo)
    routes, per_dataset = _routing_options(options)
    model = RoutedDepthAnything(version, fixed=fixed or None, device=device, precision=precision,
                                repos=repos, routes=routes, per_dataset=per_dataset, **options)
    model.name = name
    return model
