"""Stand-in of the DINOv2 hub folder PatchFusion's Depth Anything branch loads from
``./external/torchhub/facebookresearch_dinov2_main`` (relative to the working directory)."""
