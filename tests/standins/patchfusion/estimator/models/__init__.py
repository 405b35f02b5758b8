"""Stand-in of ``estimator.models``."""
