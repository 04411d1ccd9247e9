"""The layers as the README states them: a package imports only from its own layer or the ones below it.

Read from the source itself (every `from myhibachi.x import …`, also those inside functions), so a new import
across the layers fails here, and a new package fails until it is given a layer."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "myhibachi"
# Lowest first. One layer may hold several packages that use each other: identity (who, where, and the audit of
# what they did) is one, since a station's staff are users and a station is changed by them.
LAYERS: list[set[str]] = [
    {"settings"},
    {"core"},
    {"audit", "auth", "stations"},
    {"consent", "contacts", "pricing"},
    {"chefs"},
    {"bookings"},
    {"payments"},
    {"leads"},
    {"newsletters", "reviews"},
    {"automations"},
    {"inbox"},
    {"assistant"},
    {"analytics"},
    {"demo", "schema", "tasks", "worker", "web"},
    {"app", "cli"},
]
NOT_CODE = {"migrations", "templates", "__init__", "__main__"}


def layer_of(package: str) -> int:
    return next(index for index, layer in enumerate(LAYERS) if package in layer)


def imports_by_package() -> dict[str, set[tuple[str, str]]]:
    """{package: {(imported package, "file:line"), …}} for every import of another of our packages."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in PACKAGE.rglob("*.py"):
        package = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if package in NOT_CODE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("myhibachi."):
                imported = node.module.split(".")[1]
                if imported != package:
                    where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
                    found.setdefault(package, set()).add((imported, where))
        found.setdefault(package, set())
    return found


def test_every_package_has_a_layer() -> None:
    placed = set().union(*LAYERS)
    assert sorted(set(imports_by_package()) - placed) == []
    assert sorted(placed - set(imports_by_package())) == []  # no layer names a package that is gone


def test_no_package_imports_from_a_layer_above_its_own() -> None:
    upward = sorted((where, f"{package} -> {imported}") for package, imports in imports_by_package().items()
                    for imported, where in imports if layer_of(imported) > layer_of(package))
    assert upward == []


def test_the_layers_are_the_readmes() -> None:
    readme = (PACKAGE.parents[1] / "README.md").read_text()
    stated = " → ".join(" + ".join(f"`{name}`" for name in sorted(layer)) for layer in LAYERS)
    assert stated in readme, stated


def test_migrations_run_no_code_of_the_app_but_its_column_types() -> None:
    """A revision runs on a database as it was then, long after the app's code has moved on: it may use the column
    types of `core.db` (stable, what its tables were made with) and nothing else of ours."""
    ours = sorted(f"{path.name}:{node.lineno} {name}" for path in (PACKAGE / "migrations").rglob("*.py")
                  for node in ast.walk(ast.parse(path.read_text()))
                  for name in ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                               [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                  if name.startswith("myhibachi") and name != "myhibachi.core.db"
                  and path.name != "env.py")  # env.py is the runner: the app's engine, settings and metadata
    assert ours == []
