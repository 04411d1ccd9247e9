"""MyHibachi: run a mobile hibachi catering business end to end."""

__version__ = "0.1.0"
