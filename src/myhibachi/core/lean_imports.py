"""Libraries that import, when they are imported, more than we use of them: every process would carry it (issue 21:
one serving process <= 150 MB). `install` runs in myhibachi/__init__.py, before any of our modules imports them;
tests/core/test_lean_start.py checks that what is left out stays out, and that what is deferred still works.

- DEFERRED: a package whose `__init__` imports all it offers is found as usual, but its `__init__` is not run: each
  name it imports from its own modules (`from .module import Name`, read from that file) is imported when first asked
  for (a module `__getattr__`, PEP 562); an `__init__` that does anything else loads as usual. taskiq.middlewares
  imports TaskiqAdminMiddleware, which we never use, and which imports aiohttp (~7 MB).
- WITHOUT: optional dependencies a library imports, when installed, for features we do not use, look uninstalled
  while that library runs its `__init__` (and imports its modules). structlog imports rich's tracebacks and pygments
  (~2 MB) for the console renderer's default exception formatter (observability.py chooses the plain one); taskiq
  imports pyzmq for its ZeroMQBroker (pyzmq comes with the dev tools: locust); PyJWT imports cryptography (~8 MB,
  loaded where a SendGrid webhook is checked) for its RSA and EC algorithms: our tokens are HS256 (core/security.py).
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType
from typing import Any

DEFERRED = frozenset({"taskiq.middlewares"})
WITHOUT = {"structlog": ("rich",), "taskiq": ("zmq",), "jwt": ("cryptography",)}


def reexports(source: str) -> tuple[dict[str, tuple[str, str]], list[str]] | None:
    """An `__init__`'s names -> (its module, the name there), and its `__all__`; None if it does more than that."""
    exports: dict[str, tuple[str, str]] = {}
    public: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            exports.update({alias.asname or alias.name: (node.module, alias.name) for alias in node.names})
        elif isinstance(node, ast.Assign) and [getattr(target, "id", None) for target in node.targets] == ["__all__"]:
            public = list(ast.literal_eval(node.value))
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):  # but its docstring
            return None
    return exports, public


class DeferredExports(Loader):
    def exec_module(self, module: ModuleType) -> None:
        found = reexports(Path(str(module.__file__)).read_text())
        assert found is not None  # LeanImports.find_spec checked it
        exports, module.__all__ = found

        def __getattr__(name: str) -> object:
            if name not in exports:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            submodule, original = exports[name]
            value = getattr(importlib.import_module(f"{module.__name__}.{submodule}"), original)
            setattr(module, name, value)  # asked once
            return value

        module.__getattr__ = __getattr__  # type: ignore[method-assign]


class Without(Loader):
    """The library's own loader, run with `hidden` looking uninstalled (None in sys.modules: ImportError)."""

    def __init__(self, loader: Loader, hidden: Sequence[str]) -> None:
        self.loader, self.hidden = loader, hidden

    def __getattr__(self, name: str) -> Any:  # the rest of the loader's interface (get_source, resources…)
        return getattr(self.loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        saved = {name: sys.modules.pop(name) for name in self.hidden if name in sys.modules}
        sys.modules.update(dict.fromkeys(self.hidden))
        try:
            self.loader.exec_module(module)
        finally:
            for name in self.hidden:
                del sys.modules[name]
            sys.modules.update(saved)


class LeanImports(MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        if fullname not in DEFERRED and fullname not in WITHOUT:
            return None
        spec = PathFinder.find_spec(fullname, path, target)  # the module as found: its file, its package's path
        if spec is None or spec.origin is None or spec.loader is None:
            return spec
        if fullname in WITHOUT:
            spec.loader = Without(spec.loader, WITHOUT[fullname])
        elif reexports(Path(spec.origin).read_text()) is not None:
            spec.loader = DeferredExports()
        return spec


def install() -> None:
    if not any(isinstance(finder, LeanImports) for finder in sys.meta_path):
        sys.meta_path.insert(0, LeanImports())
