"""What a customer sends on the private feedback form."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from myhibachi.core.text import multi_line


class FeedbackInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Annotated[int, Field(ge=1, le=5)]
    comment: multi_line(2000) = ""
