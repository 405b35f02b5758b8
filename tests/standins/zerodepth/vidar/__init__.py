"""Stand-in of the ``vidar`` package (the modules the ZeroDepth hub entry imports)."""
