"""hatang: build and audit a province's OpenStack private cloud from one site model."""

__version__ = "0.1.0"
