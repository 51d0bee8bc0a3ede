"""The function host: loads the app, indexes its functions, owns the engine, timers and invoker."""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devhost.auth import AuthLevel, Keys
from devhost.http_streams import check_annotations, streams_mode
from devhost.invoke import (
    DURABLE_TRIGGERS,
    HTTP_TRIGGER,
    TIMER_TRIGGER,
    FunctionInfo,
    Invoker,
    UnsupportedBindingError,
    describe,
)
from devhost.key_store import load_keys
from devhost.loader import (
    SCRIPT_FILE,
    AppLoadError,
    HostConfig,
    import_app,
    index_functions,
    read_host_config,
)
from devhost.routes import RouteTable, RouteTemplateError
from devhost.settings import HostSettings
from devhost.timers import TimerJob, TimerSchedule, TimerScheduler, parse_schedule

if TYPE_CHECKING:
    from devhost.durable.engine import DurableEngine

logger = logging.getLogger(__name__)

ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
# Sync functions share this pool, like the Python worker's PYTHON_THREADPOOL_THREAD_COUNT.
DEFAULT_THREADS = 32
DURABLE_HTTP_UTILS = "azure.durable_functions.models.utils.http_utils"


@dataclass(frozen=True, slots=True)
class HttpFunction:
    info: FunctionInfo
    route: str
    methods: tuple[str, ...]
    auth_level: AuthLevel


@dataclass(frozen=True, slots=True)
class TimerFunction:
    info: FunctionInfo
    schedule: TimerSchedule
    run_on_startup: bool


@dataclass(slots=True)
class LoadedApp:
    """Everything known about the app once it is imported and indexed."""

    config: HostConfig
    keys: Keys
    functions: dict[str, FunctionInfo]
    http: list[HttpFunction]
    timers: list[TimerFunction]
    durable: list[FunctionInfo]
    unsupported: list[FunctionInfo]
    http_streams: bool = False
    """HTTP streams mode: HTTP functions take and return FastAPI types (`devhost.http_streams`)."""

    @property
    def needs_durable_engine(self) -> bool:
        return bool(self.durable) or any(f.durable_client_names for f in self.functions.values())


def load_app(settings: HostSettings, environ: MutableMapping[str, str]) -> tuple[LoadedApp, Any]:
    """Do what Core Tools does before serving; every failure is an AppLoadError for the user.

    local.settings.json must already be applied (`load_local_settings`), so that settings it
    holds are visible to host.json, schedules and the app's module-level code.
    """
    config = read_host_config(settings.script_root, environ)
    app = import_app(settings.script_root)
    raw_functions = index_functions(app, settings.script_root / SCRIPT_FILE)
    # Decided after the import, as the worker does: importing the extension is what turns it on.
    http_streams = streams_mode(environ)
    if http_streams:
        logger.info("HTTP streams mode: HTTP functions take and return FastAPI types")
    # After the import, so that an app that cannot load leaves no keys file behind.
    try:
        keys = load_keys(settings.data_dir, environ)
    except ValueError as error:
        raise AppLoadError(str(error)) from None
    functions: dict[str, FunctionInfo] = {}
    http: list[HttpFunction] = []
    timers: list[TimerFunction] = []
    durable: list[FunctionInfo] = []
    unsupported: list[FunctionInfo] = []
    for raw in raw_functions:
        try:
            info = describe(raw)
        except UnsupportedBindingError as error:
            raise AppLoadError(f"{settings.script_root / SCRIPT_FILE}: {error}") from None
        # Function names are case-insensitive in the Functions host.
        functions[info.name.lower()] = info
        trigger = info.trigger
        if info.unsupported:
            logger.warning("function %s is not served: %s", info.name, info.unsupported)
            unsupported.append(info)
        if info.trigger_type == HTTP_TRIGGER:
            if http_streams:
                check_annotations(info)
            # Routed even when it cannot run, so that a call says why instead of a bare 404.
            methods = tuple(str(getattr(m, "value", m)).upper() for m in (trigger.methods or ()))
            route = trigger.route if trigger.route is not None else info.name
            http.append(
                HttpFunction(
                    info=info,
                    route=route.strip("/"),
                    methods=methods or ALL_METHODS,
                    auth_level=AuthLevel.parse(trigger.auth_level),
                )
            )
        elif info.unsupported:
            continue
        elif info.trigger_type == TIMER_TRIGGER:
            schedule = parse_schedule(info.name, str(trigger.schedule), environ)
            timers.append(TimerFunction(info, schedule, bool(trigger.run_on_startup)))
        elif info.trigger_type in DURABLE_TRIGGERS:
            durable.append(info)
        else:
            unsupported.append(info)
            logger.warning(
                "function %s is not served: devhost has no %s trigger", info.name, info.trigger_type
            )
    loaded = LoadedApp(
        config, keys, functions, http, timers, durable, unsupported, http_streams=http_streams
    )
    return loaded, raw_functions


async def _close_durable_client_session() -> None:
    """Close the Durable SDK client's aiohttp session, if the app ever opened it.

    The SDK keeps one session per process, made on devhost's event loop by the first client call,
    and has no shutdown hook (the Functions worker process just ends). Left open, aiohttp reports
    it as an unclosed client session when the interpreter exits, on every stop.
    """
    module = sys.modules.get(DURABLE_HTTP_UTILS)
    if module is not None:
        await module._close_session()


class FunctionHost:
    """Owns the running parts; `server.build_app` turns it into an ASGI app."""

    def __init__(
        self,
        settings: HostSettings,
        loaded: LoadedApp,
        raw_functions: list[Any],
        *,
        public_base_url: str,
        rpc_listener_url: str | None = None,
    ) -> None:
        """`rpc_listener_url` is the loopback listener for the SDK's RPC calls (Durable apps)."""
        self.settings = settings
        self.app = loaded
        self.keys = loaded.keys
        self.public_base_url = public_base_url
        # Per process and never written anywhere: it keeps other local users off the RPC port.
        self.rpc_token = secrets.token_urlsafe(32)
        self.started_at = time.monotonic()
        self.state = "Initialized"
        self.routes: RouteTable[HttpFunction] = RouteTable()
        prefix = loaded.config.route_prefix
        for function in loaded.http:
            template = "/".join(part for part in (prefix, function.route) if part)
            try:
                self.routes.add(template, function.methods, function)
            except RouteTemplateError as error:
                raise AppLoadError(f"function {function.info.name!r}: {error}") from None
        self.engine: DurableEngine | None = None
        if loaded.needs_durable_engine:
            if rpc_listener_url is None:
                raise ValueError("a Durable app needs rpc_listener_url")
            self.engine = self._create_engine(raw_functions, rpc_listener_url)
        self.invoker = Invoker(
            function_directory=str(settings.script_root),
            max_threads=DEFAULT_THREADS,
            durable_client_json=self._client_binding if self.engine else None,
        )
        self._scheduler: TimerScheduler | None = None

    def _create_engine(self, raw_functions: list[Any], rpc_listener_url: str) -> DurableEngine:
        try:
            from devhost.durable.binding import DurableUrls, rpc_base_url
            from devhost.durable.engine import DurableEngine
            from devhost.durable.worker_pool import ActivityWorkerPool, worker_count
        except ImportError as error:
            raise AppLoadError(f"the app uses Durable Functions, but {error}") from error
        config = self.app.config
        try:
            workers = worker_count(os.environ)
        except ValueError as error:
            raise AppLoadError(str(error)) from None
        pool = (
            ActivityWorkerPool(
                self.settings.script_root,
                workers,
                threads=DEFAULT_THREADS,
                log_level=self.settings.log_level,
            )
            if workers
            else None
        )
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = DurableEngine(
            raw_functions,
            db_path=self.settings.data_dir / "durable.sqlite3",
            task_hub=config.hub_name,
            max_concurrent_activities=config.max_concurrent_activities,
            max_concurrent_orchestrators=config.max_concurrent_orchestrators,
            time_skipping=self.settings.time_skipping,
            worker_pool=pool,
            function_directory=str(self.settings.script_root),
            versioning=config.versioning,
            http_poll_interval_ms=config.http_poll_interval_ms,
        )
        engine.publish(
            DurableUrls(
                public_base_url=self.public_base_url,
                system_key=self.keys.durable_system,
                rpc_base_url=rpc_base_url(rpc_listener_url, self.rpc_token),
            )
        )
        return engine

    def _client_binding(self) -> str:
        assert self.engine is not None
        return self.engine.client_binding_json()

    def function_url(self, function: HttpFunction) -> str:
        template = "/".join(p for p in (self.app.config.route_prefix, function.route) if p)
        return f"{self.public_base_url}/{template}"

    async def start(self) -> None:
        """Start the engine and timers; called once the HTTP port is bound."""
        if self.engine is not None:
            await self.engine.start()
        jobs = [
            TimerJob(t.info.name, t.schedule, t.run_on_startup, self._timer_callback(t))
            for t in self.app.timers
        ]
        self._scheduler = TimerScheduler(jobs)
        self._scheduler.start()
        self.state = "Running"

    async def stop(self) -> None:
        self.state = "Stopping"
        if self._scheduler is not None:
            await self._scheduler.stop()
        if self.engine is not None:
            await self.engine.stop()
        await _close_durable_client_session()
        self.invoker.shutdown()
        self.state = "Stopped"

    def _timer_callback(self, timer: TimerFunction) -> Any:
        async def fire(past_due: bool) -> None:
            await self.invoke_timer(timer, past_due=past_due)

        return fire

    def timer(self, name: str) -> TimerFunction | None:
        return next((t for t in self.app.timers if t.info.name.lower() == name.lower()), None)

    async def invoke_timer(self, timer: TimerFunction, *, past_due: bool) -> None:
        """Run one timer invocation; failures are logged, never raised."""
        from azure.functions.timer import TimerRequest

        context = self.invoker.new_context(timer.info)
        request = TimerRequest(
            past_due=past_due,
            schedule_status={"Last": None, "Next": None, "LastUpdated": None},
            schedule={"AdjustForDST": True},
        )
        started = time.perf_counter()
        logger.info("Executing '%s' (timer, id=%s)", timer.info.name, context.invocation_id)
        try:
            await self.invoker.call(timer.info, request, context)
        except Exception:
            logger.exception(
                "Executed '%s' (Failed, id=%s)", timer.info.name, context.invocation_id
            )
            return
        logger.info(
            "Executed '%s' (Succeeded, id=%s, duration=%dms)",
            timer.info.name,
            context.invocation_id,
            (time.perf_counter() - started) * 1000,
        )

    def uptime_ms(self) -> int:
        return int((time.monotonic() - self.started_at) * 1000)

    def status(self) -> dict[str, Any]:
        functions: list[dict[str, Any]] = []
        for info in self.app.functions.values():
            entry: dict[str, Any] = {"name": info.name, "trigger": info.trigger_type}
            http = next((h for h in self.app.http if h.info is info), None)
            if http is not None:
                entry.update(
                    url=self.function_url(http),
                    methods=list(http.methods),
                    authLevel=http.auth_level.value,
                )
            timer = next((t for t in self.app.timers if t.info is info), None)
            if timer is not None:
                entry["schedule"] = timer.schedule.expression
            functions.append(entry)
        return {
            "id": "devhost",
            "state": self.state,
            "version": "devhost",
            "processId": os.getpid(),
            "processUptime": self.uptime_ms(),
            "taskHub": self.app.config.hub_name if self.engine else None,
            "functions": functions,
        }
