"""Stand-in of TRI-ML/vidar's hubconf.py for dpbench's tests: the ``ZeroDepth`` entry, same signature.

Like upstream's entry it fetches its YAML config into the current working directory (upstream
downloads it from GitHub; the stand-in copies the clone's file), builds ``setup_network`` of the
config's ``networks.perceiver`` and sets the network to eval mode. No weights are loaded.
"""

dependencies = ["torch"]

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

from vidar.utils.config import read_config  # noqa: E402
from vidar.utils.setup import setup_network  # noqa: E402

HERE = Path(__file__).resolve().parent


def ZeroDepth(pretrained=True, **kwargs):  # noqa: N802 - upstream's entry name
    """The network ``net(rgb, intrinsics) -> depth``; writes zerodepth_config.yaml into the cwd."""
    shutil.copy(HERE / "configs/papers/zerodepth/hub_zerodepth.yaml", "zerodepth_config.yaml")
    cfg = read_config("zerodepth_config.yaml")
    model = setup_network(cfg.networks.perceiver)
    model.eval()
    model.pretrained = pretrained
    return model
