"""Jinja2 templates shipped inside the package (emails now; pages later)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def template_env() -> Environment:
    return Environment(
        loader=PackageLoader("myhibachi", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, /, **context: Any) -> str:
    return template_env().get_template(template).render(**context)
