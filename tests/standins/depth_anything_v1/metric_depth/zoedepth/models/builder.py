"""Stand-in of upstream's ``zoedepth/models/builder.py``: ``build_model(config)`` imports
``zoedepth.models.<config.model>`` and calls its version's ``build_from_config``."""

from importlib import import_module


def build_model(config):
    module = import_module(f"zoedepth.models.{config.model}")
    return module.get_version(config.version_name).build_from_config(config)
