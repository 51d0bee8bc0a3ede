"""Make a failed tool call fail the item instead of letting the model talk its way around it.

By default Agent Framework hands a tool's exception back to the model as an error result and keeps
going. For batch answers that is the wrong trade: an answer built on a failed calculation looks
fine and is wrong. This middleware turns any tool failure into ``MiddlewareFailure``, which aborts
the run; the classifier maps it to ``PermanentModelError`` with this reason.

Arguments the tool's strict model refuses give ``invalid tool call: <tool>: <field>: <problem>``,
one part per field; pydantic's own text is not passed on, since it quotes the input and links to
its documentation.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable

from agent_framework import (
    FunctionInvocationContext,
    FunctionMiddleware,
    MiddlewareFailure,
    MiddlewareTermination,
)
from pydantic import ValidationError

from agentops.agents.tools import ToolArgumentError
from agentops.logging_safety import printable
from agentops.model.classify import public_reason

logger = logging.getLogger(__name__)

_MAX_DETAIL = 300
_MAX_FIELDS = 3


class FailOnToolError(FunctionMiddleware):
    async def process(
        self,
        context: FunctionInvocationContext,
        call_next: Callable[[], Awaitable[None]],
    ) -> None:
        name = printable(context.function.name, 64)
        try:
            await call_next()
        except (MiddlewareFailure, MiddlewareTermination):
            raise
        except (TypeError, ValueError, ArithmeticError) as exc:
            # Argument validation (a TypeError in Agent Framework) and ToolArgumentError alike:
            # the model asked for something the tool cannot do.
            detail = _argument_problem(exc)
            logger.info("tool %s rejected its arguments: %s", name, type(exc).__name__)
            raise MiddlewareFailure(f"invalid tool call: {name}: {detail}") from exc
        except Exception as exc:
            # Where, not what: the message and the frames' locals may carry the user's input.
            origin = traceback.extract_tb(exc.__traceback__)[-1]
            logger.warning(
                "tool %s failed: %s at %s:%s",
                name,
                type(exc).__name__,
                printable(origin.filename),
                origin.lineno,
            )
            raise MiddlewareFailure(f"tool {name} failed: {type(exc).__name__}") from exc


def _argument_problem(exc: BaseException) -> str:
    """``field: problem; ...`` for a schema refusal, else the tool's own message, scrubbed."""
    cause = exc if isinstance(exc, ValidationError) else exc.__cause__
    if isinstance(cause, ValidationError):
        parts = []
        for error in cause.errors(include_url=False, include_input=False)[:_MAX_FIELDS]:
            field = ".".join(str(part) for part in error["loc"]) or "arguments"
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown argument"
            parts.append(f"{field}: {message}")
        return public_reason("; ".join(parts), limit=_MAX_DETAIL)
    if isinstance(exc, ToolArgumentError):
        return public_reason(str(exc), limit=_MAX_DETAIL)
    # Anything else a library raised: its first line only, as its text may name paths or values.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return public_reason(lines[0], limit=_MAX_DETAIL) if lines else type(exc).__name__
