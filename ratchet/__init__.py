"""coverage-ratchet: per-file coverage that only moves up."""

__version__ = "0.2.0"
