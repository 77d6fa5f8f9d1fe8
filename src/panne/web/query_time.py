"""Times in query strings: ISO 8601 with a time zone, and nothing else.

Pydantic's lax ``datetime`` reads ``1709650800`` as epoch seconds and, past 2e10, as
milliseconds: a number sent to ``?from=`` was guessed at, and a slip of three digits moved the
range by decades without a word. The API documents ISO 8601, so a number is refused with an
example, as is a time without a zone (which the server would have to guess too).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
EXAMPLE = "2024-03-05T15:00:00Z"


def _not_a_number(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise PydanticCustomError(
            "iso_time", "must be an ISO 8601 time such as {e}, not a number", {"e": EXAMPLE}
        )
    return value


def _zoned(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError("time_zone", "needs a time zone, e.g. {e}", {"e": EXAMPLE})
    return value


QueryTime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_zoned)]
