"""Reading an OMS answer safely: JSON that cannot blow up, validation errors that name fields
but never echo values, clipped messages, and the contract's timestamp form."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sync.errors import BadResponseError

_M = TypeVar("_M", bound=BaseModel)



def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(body: bytes | str) -> Any:
    try:
        return json.loads(body, parse_constant=reject_constant)
    except RecursionError:
        raise BadResponseError("body is not valid JSON: nested too deeply") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digits
        raise BadResponseError(clip(f"body is not valid JSON: {json_reason(exc)}", 200)) from None


def json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at offset {exc.pos}"
    return type(exc).__name__


def validate(model: type[_M], data: Any, what: str, *, context: dict[str, Any] | None = None) -> _M:
    if not isinstance(data, dict):
        raise BadResponseError(f"{what}: body is {json_type(data)}, not an object")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise BadResponseError(f"{what}: {describe_validation_error(exc)}") from None
    except RecursionError:
        raise BadResponseError(f"{what}: nested too deeply") from None


def describe_validation_error(exc: ValidationError, *, limit: int = 3) -> str:
    """ "lines.0.gtin: String should match pattern ..." for the first few problems.

    Never echoes the input: a snapshot may be huge, or carry a customer's data.
    """
    parts = []
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    for error in errors[:limit]:
        where = ".".join(clip(str(part), 40) for part in error["loc"]) or "(root)"
        parts.append(f"{where}: {clip(error['msg'], 120)}")
    more = len(errors) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return clip("; ".join(parts), 400)


def json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_rfc3339(moment: datetime) -> str:
    """UTC, second precision, trailing Z: the contract's timestamp form."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
