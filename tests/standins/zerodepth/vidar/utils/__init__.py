"""Stand-in of ``vidar.utils``."""
