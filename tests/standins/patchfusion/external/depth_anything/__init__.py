"""Stand-in of the vendored ``depth_anything`` package under ``external/`` (imported by the model
module, as upstream's ``from depth_anything.transform import Resize``): importable only when
``external/`` is on sys.path."""

#: The coarse branch's input size of the Depth Anything variants (height, width).
PATCH_PROCESS_SHAPE = (392, 518)
