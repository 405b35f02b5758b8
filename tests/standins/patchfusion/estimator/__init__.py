"""Stand-in of PatchFusion's ``estimator`` package (dpbench tests)."""
