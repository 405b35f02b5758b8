"""Stand-in of ``unidepth.layers``."""
