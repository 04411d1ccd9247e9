"""core/lean_imports.py: a deferred package's names import their module on first use, and only then; an optional
dependency looks uninstalled to the library that would import it, and only while that library is imported.
(test_lean_start.py checks that the app and the CLI start without what it leaves out.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from myhibachi.core import lean_imports

PACKAGES = ("lean_demo", "lean_demo.light", "lean_demo.heavy", "lean_eager", "lean_eager.heavy", "lean_optional",
            "lean_user")


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    def write(path: str, text: str) -> None:
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text(text)

    write("lean_demo/__init__.py", '"""Re-exports only."""\n\nfrom .light import Light\nfrom .heavy import Heavy as '
                                   'Big, HEAVY\n\n__all__ = ("Light", "Big", "HEAVY")\n')
    write("lean_demo/light.py", "class Light: ...\n")
    write("lean_demo/heavy.py", "class Heavy: ...\nHEAVY = 1\n")
    write("lean_eager/__init__.py", "from .heavy import Heavy\nSTARTED = True\n")
    write("lean_eager/heavy.py", "class Heavy: ...\n")
    write("lean_optional.py", "")
    write("lean_user.py", "try:\n    import lean_optional\nexcept ImportError:\n    lean_optional = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(lean_imports, "DEFERRED", frozenset({"lean_demo", "lean_eager"}))
    monkeypatch.setattr(lean_imports, "WITHOUT", {"lean_user": ("lean_optional",)})
    lean_imports.install()
    yield tmp_path
    for name in PACKAGES:
        sys.modules.pop(name, None)


def test_a_deferred_package_imports_each_module_when_its_name_is_first_used(packages: Path) -> None:
    from lean_demo import Light

    assert "lean_demo.light" in sys.modules and "lean_demo.heavy" not in sys.modules
    import lean_demo

    assert lean_demo.__all__ == ["Light", "Big", "HEAVY"]
    assert lean_demo.__file__ == str(packages / "lean_demo" / "__init__.py")
    assert lean_demo.Big is sys.modules["lean_demo.heavy"].Heavy and lean_demo.HEAVY == 1 and Light is lean_demo.Light
    with pytest.raises(AttributeError, match="has no attribute 'Missing'"):
        lean_demo.Missing  # noqa: B018
    with pytest.raises(ImportError):
        from lean_demo import Missing  # noqa: F401


def test_a_package_whose_init_does_more_than_re_export_loads_as_usual(packages: Path) -> None:
    import lean_eager

    assert lean_eager.STARTED and "lean_eager.heavy" in sys.modules


def test_an_optional_dependency_looks_uninstalled_only_to_the_library_importing_it(packages: Path) -> None:
    import lean_user

    assert lean_user.lean_optional is None
    import lean_optional  # installed, for anyone else

    assert lean_optional.__file__ == str(packages / "lean_optional.py")


def test_what_taskiq_structlog_and_pyjwt_leave_out_still_works_when_used() -> None:
    """In a fresh process: taskiq's admin middleware (and aiohttp) load when asked for; ZeroMQBroker, structlog's
    console renderer and PyJWT's HS256 are there; pyzmq, rich and cryptography are not imported for them, and are
    importable."""
    script = """
import sys
import myhibachi, jwt, structlog, taskiq, taskiq.middlewares
left_out = {"aiohttp", "zmq", "rich", "cryptography"}
assert left_out.isdisjoint(sys.modules), sorted(left_out & set(sys.modules))
assert jwt.decode(jwt.encode({"sub": "1"}, "k" * 32, algorithm="HS256"), "k" * 32, algorithms=["HS256"]) == {"sub": "1"}
assert taskiq.middlewares.__all__ == ["PrometheusMiddleware", "SimpleRetryMiddleware", "SmartRetryMiddleware",
                                      "TaskiqAdminMiddleware"]
from taskiq.middlewares import TaskiqAdminMiddleware
assert TaskiqAdminMiddleware.__module__ == "taskiq.middlewares.taskiq_admin_middleware" and "aiohttp" in sys.modules
assert issubclass(taskiq.ZeroMQBroker, taskiq.AsyncBroker) and structlog.dev.ConsoleRenderer
import cryptography.hazmat.primitives.asymmetric.ec, rich.console, zmq
print("ok")
"""
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0 and ran.stdout.strip() == "ok", ran.stderr
