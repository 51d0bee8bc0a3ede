"""Loading a Functions app the way Core Tools does: local settings, host.json, function_app.py."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devhost.durable.versioning import VersioningPolicy, versioning_from_host_json

if TYPE_CHECKING:
    from azure.functions.decorators.core import Function

logger = logging.getLogger(__name__)

SCRIPT_FILE = "function_app.py"
_SETTING_REF = re.compile(r"%([^%]+)%")
DEFAULT_HTTP_POLL_MS = 30_000  # the Durable extension's defaultAsyncRequestSleepTimeMilliseconds


class AppLoadError(Exception):
    """The app cannot be served; the message is meant for the person who runs devhost."""


@dataclass(frozen=True, slots=True)
class HostConfig:
    """The parts of host.json that devhost honours."""

    route_prefix: str
    hub_name: str
    max_concurrent_activities: int
    max_concurrent_orchestrators: int
    versioning: VersioningPolicy = field(default_factory=VersioningPolicy)
    # extensions.durableTask.httpSettings: how long call_http waits between polls of a 202
    # when the answer has no Retry-After.
    http_poll_interval_ms: int = DEFAULT_HTTP_POLL_MS


def expand_settings(value: str, environ: Mapping[str, str], *, what: str) -> str:
    """Replace `%NAME%` with the app setting NAME, as the Functions host does for binding values."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise AppLoadError(f"{what} refers to app setting %{name}%, which is not set")
        return environ[name]

    return _SETTING_REF.sub(lookup, value)


def load_local_settings(script_root: Path, environ: MutableMapping[str, str]) -> list[str]:
    """Copy local.settings.json `Values` into `environ` without overriding what is already set.

    Returns the names that were applied. A missing file is fine; a malformed one is an error.
    """
    path = script_root / "local.settings.json"
    if not path.is_file():
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as error:
        raise AppLoadError(f"{path}: cannot read local settings: {error}") from error
    values = document.get("Values", {}) if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise AppLoadError(f"{path}: 'Values' must be an object of setting names to strings")
    applied: list[str] = []
    for name, value in values.items():
        if name in environ:
            continue
        if value is None:
            continue
        environ[name] = value if isinstance(value, str) else json.dumps(value)
        applied.append(name)
    return applied


def _positive_int(
    section: Mapping[str, Any],
    key: str,
    default: int,
    path: Path,
    *,
    where: str = "extensions.durableTask",
) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AppLoadError(f"{path}: {where}.{key} must be a positive integer")
    return value


def read_host_config(script_root: Path, environ: Mapping[str, str]) -> HostConfig:
    """Read host.json; defaults follow the Functions host when the file or a key is absent."""
    path = script_root / "host.json"
    document: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, json.JSONDecodeError) as error:
            raise AppLoadError(f"{path}: cannot read host.json: {error}") from error
        if not isinstance(loaded, dict):
            raise AppLoadError(f"{path}: host.json must be a JSON object")
        document = loaded
    extensions = document.get("extensions") or {}
    http = extensions.get("http") or {}
    route_prefix = http.get("routePrefix", "api")
    if not isinstance(route_prefix, str):
        raise AppLoadError(f"{path}: extensions.http.routePrefix must be a string")
    durable = extensions.get("durableTask") or {}
    hub_name = expand_settings(
        str(durable.get("hubName", "TestHubName")),
        environ,
        what=f"{path}: extensions.durableTask.hubName",
    )
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,49}", hub_name):
        raise AppLoadError(
            f"{path}: task hub name {hub_name!r} must be 3-50 letters and digits, "
            "starting with a letter"
        )
    # The Functions host defaults both limits to 10 per processor.
    default_limit = 10 * (os.cpu_count() or 1)
    try:
        versioning = versioning_from_host_json(durable)
    except ValueError as error:
        raise AppLoadError(f"{path}: {error}") from None
    http_settings = durable.get("httpSettings") or {}
    if not isinstance(http_settings, dict):
        raise AppLoadError(f"{path}: extensions.durableTask.httpSettings must be an object")
    return HostConfig(
        route_prefix=route_prefix.strip("/"),
        hub_name=hub_name,
        max_concurrent_activities=_positive_int(
            durable, "maxConcurrentActivityFunctions", default_limit, path
        ),
        max_concurrent_orchestrators=_positive_int(
            durable, "maxConcurrentOrchestratorFunctions", default_limit, path
        ),
        versioning=versioning,
        http_poll_interval_ms=_positive_int(
            http_settings,
            "defaultAsyncRequestSleepTimeMilliseconds",
            DEFAULT_HTTP_POLL_MS,
            path,
            where="extensions.durableTask.httpSettings",
        ),
    )


def _describe_import_failure(script: Path, error: BaseException) -> str:
    """File, line and error of the innermost frame inside the app, not the host's stack."""
    root = script.parent.resolve()
    frames = traceback.extract_tb(error.__traceback__)
    in_app = [f for f in frames if Path(f.filename).resolve().is_relative_to(root)]
    summary = f"{type(error).__name__}: {error}"
    if isinstance(error, SyntaxError) and error.filename:
        location = f'File "{error.filename}", line {error.lineno}'
        text = (error.text or "").rstrip()
        return f"{location}\n    {text}\n{type(error).__name__}: {error.msg}"
    if in_app:
        frame = in_app[-1]
        code = f"\n    {frame.line}" if frame.line else ""
        return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}{code}\n{summary}'
    return f'File "{script}"\n{summary}'


def import_app(script_root: Path) -> Any:
    """Import function_app.py from `script_root` (put on sys.path) and return its FunctionApp."""
    script = script_root / SCRIPT_FILE
    if not script.is_file():
        raise AppLoadError(f"{script}: not found; devhost serves v2-model apps ({SCRIPT_FILE})")
    root = str(script_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location("function_app", script)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"{script}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        sys.modules.pop("function_app", None)
        raise AppLoadError(
            f"{script} failed to import:\n{_describe_import_failure(script, error)}"
        ) from error
    return find_function_app(module, script)


def find_function_app(module: Any, script: Path) -> Any:
    from azure.functions import FunctionRegister

    apps = [value for value in vars(module).values() if isinstance(value, FunctionRegister)]
    unique = list({id(app): app for app in apps}.values())
    if not unique:
        raise AppLoadError(f"{script}: defines no FunctionApp (or DFApp) object at module level")
    if len(unique) > 1:
        raise AppLoadError(f"{script}: defines {len(unique)} FunctionApp objects; expected one")
    return unique[0]


def index_functions(app: Any, script: Path) -> list[Function]:
    try:
        functions: list[Function] = app.get_functions()
    except ValueError as error:
        raise AppLoadError(f"{script}: cannot index the app: {error}") from error
    return functions
