"""zimun-analytics: availability analytics for the Zimun booking API."""

__version__ = "0.1.0"

__all__ = ["__version__"]
