"""An automation as staff edit it: on or off, and its steps in order (each: the wait before it, its subject and its
markdown body)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from myhibachi.core.text import multi_line, single_line

MAX_STEPS = 6
MAX_DELAY_MINUTES = 365 * 24 * 60


class StepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_minutes: Annotated[int, Field(ge=0, le=MAX_DELAY_MINUTES)]
    subject: single_line(200)
    body_markdown: multi_line(20000, min_length=1)


class AutomationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
    steps: Annotated[list[StepInput], Field(min_length=1, max_length=MAX_STEPS)]
