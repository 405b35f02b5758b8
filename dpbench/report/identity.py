"""Who a run is, for a report: its label, whether its weights are real, which paper row it is.

- **Label**: the model name plus the model options given to the run (``-o``), except those that
  only change speed (:data:`RUNTIME_OPTIONS`) or say where upstream code is read from
  (:data:`SOURCE_OPTIONS`): ``depthpro [config=tiny, pretrained=false]``.
- **Random-initialised weights** (``-o pretrained=false``, or a model record saying
  ``pretrained: false``) are marked :data:`UNTRAINED_MARK` and never bolded or ranked with real
  checkpoints.
- **Paper row**: a run stands for one of the paper's methods only through the model cards
  (``baselines/models/*.toml``): the card variant (or the card of a native model) whose ``model``
  is the run's model names the paper row in ``paper_method``; the run's output kind (metric vs
  relative) must be the kind of the paper's number (:meth:`PaperMethod.kind_of`); a run with an
  identity-changing option (another config, random weights) stands for no paper row. The display
  name alone never matches. A ``predictions:`` folder stands for a paper row only when its
  ``meta.json`` declares ``"model"`` as exactly a card's model name (e.g. ``spec``, ``im2pcl`` for
  Table 3's focal-only baselines).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from dpbench.resources import load_toml, resource_dir

#: Model options that change speed or memory, not the numbers (left out of labels and identity).
RUNTIME_OPTIONS = ("batch_size", "channels_last", "compile", "device", "precision", "download")
#: Model options that say where the same upstream code or weights are read from (a local clone
#: instead of the hub download, a local copy of a published file; commit and sha256 are in the
#: manifest), not what is computed.
SOURCE_OPTIONS = ("repo", "relative_checkpoint", "indoor_checkpoint", "outdoor_checkpoint")
UNTRAINED_MARK = "⊘"
_FALSE = {"false", "0", "no", "off"}


def model_options(agg: Mapping) -> dict:
    """The options a run's model was built with (``-o KEY=VALUE``), runtime-only and code-source
    ones left out."""
    options = dict(agg.get("model_options") or {})
    return {k: v for k, v in options.items() if k not in RUNTIME_OPTIONS and k not in SOURCE_OPTIONS}


def _option_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def model_label(agg: Mapping) -> str:
    """The model name with its options: ``depthpro [config=tiny, pretrained=false]``."""
    name = str((agg.get("model") or {}).get("name", "?"))
    options = model_options(agg)
    if not options:
        return name
    return f"{name} [{', '.join(f'{k}={_option_text(v)}' for k, v in sorted(options.items()))}]"


def is_untrained(agg: Mapping) -> bool:
    """Whether the run's weights are random (``pretrained=false``)."""
    values = [dict(agg.get("model_options") or {}).get("pretrained"), (agg.get("model") or {}).get("pretrained")]
    return any(v is False or (isinstance(v, str) and v.strip().lower() in _FALSE) for v in values)


def output_class(output_kind: str | None) -> str:
    """``metric`` for metric depth, ``relative`` for every relative output."""
    return "metric" if (output_kind or "metric_depth") == "metric_depth" else "relative"


@functools.lru_cache(maxsize=4)
def _card_index(folder: Path) -> dict[str, str]:
    """Lower-cased model name -> the paper method_id its card names (``paper_method``)."""
    index: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        card = load_toml(path)
        method = card.get("paper_method")
        if method and card.get("name"):
            index.setdefault(str(card["name"]).lower(), str(method))
        for variant in card.get("variants", []):
            if variant.get("paper_method") and variant.get("model"):
                index[str(variant["model"]).lower()] = str(variant["paper_method"])
    return index


def card_paper_method(model_name: str) -> str | None:
    """The paper row a model's card names: the variant with this exact model name, else the card
    of a native model (``depthpro``, ``depthpro:<checkpoint>``, ``marigold``)."""
    index = _card_index(resource_dir("baselines") / "models")
    name = model_name.lower()
    return index.get(name) or (index.get(name.split(":", 1)[0]) if not name.startswith("hf:") else None)


def paper_identity(agg: Mapping) -> tuple[str, str] | None:
    """``(method_id, output class)`` of the paper row a run may be compared with, or None: random
    weights or an identity-changing option never match."""
    if is_untrained(agg) or model_options(agg):
        return None
    model = agg.get("model") or {}
    name = str(model.get("name", ""))
    if name.startswith("predictions:"):  # made elsewhere: only an exact card name declared in meta.json
        declared = str(model.get("declared_by") or "").lower()
        method = _card_index(resource_dir("baselines") / "models").get(declared) if declared else None
    else:
        method = card_paper_method(name)
    return (method, output_class(model.get("output_kind"))) if method else None
