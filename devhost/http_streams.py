"""HTTP streams mode: what the Python worker does once an app imports a web extension.

An app that imports `azurefunctions.extensions.http.fastapi` switches every HTTP trigger of the
app, in Azure, to FastAPI types: the function gets the Starlette `Request` itself and whatever it
returns goes out through a FastAPI route. The worker decides this after importing the app
(`HttpV2Registry.http_v2_enabled`), and only with `PYTHON_ENABLE_INIT_INDEXING` true; it then
checks each HTTP function's annotations with the extension's own type trackers. devhost decides
and checks the same way, with the same calls, so that an app that loads here loads in Azure.

Nothing here imports FastAPI or the extension unless the app already has.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from devhost.loader import AppLoadError

if TYPE_CHECKING:
    from devhost.invoke import FunctionInfo

INIT_INDEXING_SETTING = "PYTHON_ENABLE_INIT_INDEXING"
EXTENSION_BASE = "azurefunctions.extensions.base"
FASTAPI_EXTENSION = "azurefunctions.extensions.http.fastapi"
RETURN_BINDING = "$return"
# The worker's is_true_like.
_TRUE_LIKE = frozenset({"1", "true", "t", "yes", "y"})


def _extension_base() -> Any | None:
    """The extension base package if the app (or anything it imported) loaded it.

    The worker imports the base package to ask; an extension registers itself in the base
    package's trackers as it is imported, so a base package nobody imported means no extension.
    """
    return sys.modules.get(EXTENSION_BASE)


def extension_imported() -> bool:
    """Whether a web extension is imported: `HttpV2FeatureChecker.http_v2_enabled()`."""
    base = _extension_base()
    return base is not None and bool(base.HttpV2FeatureChecker.http_v2_enabled())


def init_indexing_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get(INIT_INDEXING_SETTING, "").strip().lower() in _TRUE_LIKE


def streams_mode(environ: Mapping[str, str]) -> bool:
    """Whether the imported app runs in HTTP streams mode, as the worker decides it.

    An app that imports the extension without the setting would fail in Azure (its FastAPI
    annotations fail the worker's classic type check), so it does not load here either.
    """
    if not extension_imported():
        return False
    if not init_indexing_enabled(environ):
        raise AppLoadError(
            f"the app imports the HTTP streams extension ({FASTAPI_EXTENSION}), which Azure "
            f"only enables with the app setting {INIT_INDEXING_SETTING}=1; set it (in "
            "local.settings.json Values and in the Function App's settings), or stop importing "
            "the extension"
        )
    return True


def _type_name(pytype: Any) -> str:
    if isinstance(pytype, type):
        return f"{pytype.__module__}.{pytype.__qualname__}"
    return repr(pytype)


def _response_type_names(base: Any) -> str:
    types = (base.ResponseTrackerMeta.get_response_type(label) for label in base.ResponseLabels)
    return ", ".join(_type_name(t) for t in types if t is not None)


def check_annotations(info: FunctionInfo) -> None:
    """Refuse an HTTP function whose annotations the worker refuses in streams mode.

    The trigger parameter, when annotated, must be the extension's request type (or a subclass);
    the return, when annotated, one of its response types. Unannotated ones pass, as there.
    """
    base = _extension_base()
    assert base is not None, "only called in streams mode"
    where = f"function {info.name!r}"
    try:
        hints = typing.get_type_hints(info.user_function)
    except Exception as error:  # an annotation that names nothing: the worker fails too
        raise AppLoadError(f"{where}: cannot resolve its type annotations: {error}") from None
    trigger = hints.get(info.trigger_name)
    if trigger is not None and not base.RequestTrackerMeta.check_type(trigger):
        expected = _type_name(base.RequestTrackerMeta.get_request_type())
        raise AppLoadError(
            f"{where}: parameter {info.trigger_name!r} is annotated {_type_name(trigger)}, but "
            f"in HTTP streams mode (the app imports {FASTAPI_EXTENSION}) an HTTP trigger "
            f"takes {expected} ({FASTAPI_EXTENSION}.Request)"
        )
    declares_return = any(b.name == RETURN_BINDING for b in info.function.get_bindings())
    returned = hints.get("return")
    if (
        declares_return
        and returned is not None
        and not base.ResponseTrackerMeta.check_type(returned)
    ):
        raise AppLoadError(
            f"{where}: its return is annotated {_type_name(returned)}, but in HTTP streams mode "
            f"an HTTP function returns one of {_response_type_names(base)} (or a subclass)"
        )


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands over the body devhost already read, then the connection's own
    (so the app still hears a disconnect)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def function_request(request: Request, body: bytes, route_params: Mapping[str, str]) -> Request:
    """The request a streams-mode function gets: the caller's, with its body replayed and the
    route's decoded parameters as `path_params` (the extension's `sync_route_params`)."""
    scope = dict(request.scope)
    scope["path_params"] = dict(route_params)
    return Request(scope, _replaying(body, request.receive))


def function_response(result: Any) -> Response:
    """What FastAPI's route makes of a function's result: a response as it is (streamed chunk by
    chunk), anything else JSON-encoded; a classic `func.HttpResponse` is refused."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    if isinstance(result, Response):
        return result
    # bool is an int; None is what a function without `return` gives, FastAPI's `null`.
    if result is None or isinstance(result, str | dict | list | int | float | BaseModel):
        return JSONResponse(jsonable_encoder(result))
    raise TypeError(
        f"in HTTP streams mode an HTTP function returns a FastAPI response or a JSON-encodable "
        f"value (str, dict, list, int, float, bool, pydantic model), not "
        f"{type(result).__module__}.{type(result).__qualname__}"
    )
