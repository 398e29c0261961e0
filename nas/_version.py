"""The package version, in a leaf module so that any module can read it without importing
the ``nas`` package's API (export writes it into every model file)."""

__version__ = "0.1.0"
