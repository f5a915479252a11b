"""ptx: person-specific neural video rendering and pose transfer (D2G-Net)."""

__version__ = "0.1.0"
