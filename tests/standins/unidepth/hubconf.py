"""Stand-in of lpiccinelli-eth/UniDepth's ``hubconf.py`` for dpbench's tests (no network, tiny nets).

Same entry name, keywords and checks as upstream's; ``pretrained=True`` would download weights
upstream, so here it fails loudly: dpbench must build with ``pretrained=False`` and load the
weight file itself.
"""

dependencies = ["torch"]

from unidepth.models import UniDepthV1, UniDepthV2  # noqa: E402

MAP_VERSIONS = {"v1": UniDepthV1, "v2": UniDepthV2}
BACKBONES = {"v1": ["vitl14", "cnvnxtl"], "v2": ["vitl14", "vitb14", "vits14"]}


def UniDepth(version="v2", backbone="vitl14", pretrained=True):  # noqa: N802 (upstream's name)
    assert version in MAP_VERSIONS, f"version must be one of {list(MAP_VERSIONS)}"
    assert backbone in BACKBONES[version], f"backbone must be one of {BACKBONES[version]}"
    if pretrained:
        raise RuntimeError("stand-in: pretrained=True downloads weights upstream; dpbench must not ask for it")
    return MAP_VERSIONS[version](backbone)
