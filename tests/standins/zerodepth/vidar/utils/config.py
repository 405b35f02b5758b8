"""Stand-in of ``vidar.utils.config.read_config``: a YAML file as nested attribute objects."""

from types import SimpleNamespace

import yaml


def _namespace(value):
    if isinstance(value, dict):
        return SimpleNamespace(**{key: _namespace(item) for key, item in value.items()})
    return value


def read_config(path):
    """The YAML at ``path`` with attribute access (``cfg.networks.perceiver``)."""
    with open(path, encoding="utf-8") as handle:
        return _namespace(yaml.safe_load(handle))
