"""The optional model (LLM_BASE_URL): an OpenAI-compatible chat-completions endpoint that may pick the assistant's
tools and phrase its answer, but only through the whitelist (`tools.TOOLS`, arguments validated: an unknown tool or
bad arguments is ignored), and a phrased answer is used only if every number in it appears in the tools' results.
A timeout, an HTTP error, bad JSON, a refusal or no usable tool call: None, and the built-in dialogue answers."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel, ValidationError

from myhibachi.assistant.dialogue import Draft, Reading
from myhibachi.assistant.tools import TOOLS, HandOffArgs, Turn, tool_schemas

NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
SYSTEM = ("You are the automated website assistant of {brand} ({station}), a mobile hibachi caterer. Answer only "
          "through the tools: every price, fee, date, time and policy comes from a tool's result; never state a "
          "number that no tool gave. Hold a date only when the visitor has just confirmed. What the visitor told so "
          "far: {slots}.")
if TYPE_CHECKING:
    import httpx

log = structlog.get_logger(__name__)


class ModelUnusable(Exception):
    """The endpoint's answer cannot be used (refused, no choices, not JSON)."""


async def model_draft(turn: Turn, text: str, reading: Reading) -> Draft | None:
    """The model's draft for the message, or None to let the built-in dialogue answer."""
    settings = turn.settings
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM.format(brand=settings.brand_name, station=turn.station.name,
                                                    slots=json.dumps(turn.state.slots, sort_keys=True))},
        {"role": "user", "content": text}]
    try:
        import httpx  # here: a process without LLM_BASE_URL never loads it

        async with httpx.AsyncClient(timeout=settings.llm_timeout_seconds) as client:
            picked = await _complete(client, turn, messages, with_tools=True)
            draft, answers = await _run_calls(turn, picked.get("tool_calls") or [], reading)
            if draft is None:
                return None
            if not draft.writes:
                phrased = await _complete(client, turn, [*messages, _assistant_turn(picked), *answers],
                                          with_tools=False)
                draft.phrased = checked_wording(phrased.get("content"), turn.facts)
    except Exception as failed:  # noqa: BLE001 - whatever goes wrong with the model, the built-in assistant answers
        log.warning("assistant_model_failed", error=f"{type(failed).__name__}: {failed}")
        return None
    turn.state.asked = None  # the model asks nothing the built-in dialogue would have to remember
    return draft


async def _complete(client: httpx.AsyncClient, turn: Turn, messages: list[dict[str, Any]], *,
                    with_tools: bool) -> dict[str, Any]:
    settings = turn.settings
    body: dict[str, Any] = {"model": settings.llm_model, "messages": messages}
    if with_tools:
        body["tools"] = tool_schemas()
    headers = {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"} if settings.llm_api_key else {}
    response = await client.post(f"{settings.llm_base_url.rstrip('/')}/chat/completions", json=body,  # type: ignore[union-attr]
                                 headers=headers)
    response.raise_for_status()
    answer = response.json()
    if not isinstance(answer, dict) or not answer.get("choices"):
        raise ModelUnusable("no choices")
    message = answer["choices"][0].get("message")
    if not isinstance(message, dict) or message.get("refusal"):
        raise ModelUnusable("refused")
    return message


async def _run_calls(turn: Turn, calls: list[dict[str, Any]],
                     reading: Reading) -> tuple[Draft | None, list[dict[str, Any]]]:
    """Runs the model's valid calls to reading tools now and keeps those to writing tools for the lock; each call
    gets a tool message (what the tool said, or that it was ignored). No draft when no call was usable."""
    draft, answers = Draft(), []
    for call in calls:
        name, args = _valid(call)
        said = "ignored: not an available tool or not valid arguments"
        if name is not None and args is not None:
            tool = TOOLS[name]
            if name == "hold" and reading.confirmed is not True:
                said = "ignored: the visitor has not confirmed a hold"
            elif tool.writes:
                draft.writes.append((name, args))
                said = "done"
            elif (result := await tool.run(turn, args)) is not None:
                draft.parts.append(result.text)
                said = result.text
                if result.handoff is not None:
                    draft.writes.append(("hand_off", HandOffArgs(reason=result.handoff)))
        answers.append({"role": "tool", "tool_call_id": str(call.get("id", "")), "content": said})
    return (draft if draft.parts or draft.writes else None), answers


def _valid(call: dict[str, Any]) -> tuple[str | None, BaseModel | None]:
    """The call's tool and its arguments, if the tool is on the whitelist and the arguments are valid."""
    function = call.get("function") or {}
    name = function.get("name")
    if name not in TOOLS:
        log.info("assistant_model_unknown_tool", tool=str(name)[:60])
        return None, None
    try:
        raw = function.get("arguments") or "{}"
        return name, TOOLS[name].args.model_validate(json.loads(raw) if isinstance(raw, str) else raw)
    except (ValidationError, ValueError, TypeError):
        log.info("assistant_model_bad_arguments", tool=name)
        return None, None


def _assistant_turn(picked: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": picked.get("content"), "tool_calls": picked.get("tool_calls") or []}


def checked_wording(text: object, facts: list[str]) -> str | None:
    """The model's wording if every number in it is one the tools said; None otherwise (the tools' text is used)."""
    if not isinstance(text, str) or not text.strip():
        return None
    known = {_plain(number) for fact in facts for number in NUMBER.findall(fact)}
    known |= {number.removesuffix(".00") for number in known}  # "$550" says what "$550.00" says
    made_up = [number for number in NUMBER.findall(text) if _plain(number) not in known]
    if made_up:
        log.info("assistant_model_number_refused", numbers=made_up[:5])
        return None
    return text.strip()


def _plain(number: str) -> str:
    return number.replace(",", "")
