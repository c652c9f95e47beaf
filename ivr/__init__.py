"""The 12345 citizen-service hotline application."""

__version__ = "0.1.0"
