"""Stand-in of the ``unidepth`` package (the parts dpbench's adapter touches)."""
