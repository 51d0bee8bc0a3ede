"""Make a failed tool call fail the item instead of letting the model talk its way around it.

By default Agent Framework hands a tool's exception back to the model as an error result and keeps
going. For batch answers that is the wrong trade: an answer built on a failed calculation looks
fine and is wrong. This middleware turns any tool failure into ``MiddlewareFailure``, which aborts
the run; the classifier maps it to ``PermanentModelError`` with this reason.
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

logger = logging.getLogger(__name__)

_MAX_DETAIL = 300


class FailOnToolError(FunctionMiddleware):
    async def process(
        self,
        context: FunctionInvocationContext,
        call_next: Callable[[], Awaitable[None]],
    ) -> None:
        name = context.function.name
        try:
            await call_next()
        except (MiddlewareFailure, MiddlewareTermination):
            raise
        except (TypeError, ValueError, ArithmeticError) as exc:
            # Argument validation (a TypeError in Agent Framework) and ToolArgumentError alike:
            # the model asked for something the tool cannot do.
            # Pydantic's first lines name the field and the problem; the rest is noise.
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail = "; ".join(lines[:3])[:_MAX_DETAIL] or type(exc).__name__
            logger.info("tool %s rejected its arguments: %s", name, type(exc).__name__)
            raise MiddlewareFailure(f"invalid tool call: {name}: {detail}") from exc
        except Exception as exc:
            # Where, not what: the message and the frames' locals may carry the user's input.
            origin = traceback.extract_tb(exc.__traceback__)[-1]
            logger.warning(
                "tool %s failed: %s at %s:%s",
                name,
                type(exc).__name__,
                origin.filename,
                origin.lineno,
            )
            raise MiddlewareFailure(f"tool {name} failed: {type(exc).__name__}") from exc
