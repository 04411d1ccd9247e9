"""MyHibachi: run a mobile hibachi catering business end to end."""

from myhibachi.core.lean_imports import install as _lean_imports

__version__ = "0.1.0"

_lean_imports()  # before any of our modules imports structlog or taskiq
