"""The package version: a leaf, so every room can name it without importing the package face."""

__version__ = "0.1.0"
