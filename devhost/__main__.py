"""`python -m devhost`: serve a Functions app on 127.0.0.1:7071 like `func start`.

Exit status: 0 after a graceful stop (SIGINT/SIGTERM), 1 when the app cannot be loaded (the
message names the file, line or setting), 2 for bad flags, 3 when a server fails to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from devhost.auth import KEY_SETTINGS
from devhost.loader import AppLoadError, load_local_settings
from devhost.settings import HostSettings, parse_settings

if TYPE_CHECKING:
    import uvicorn

    from devhost.host import FunctionHost

logger = logging.getLogger("devhost")

EXIT_LOAD_ERROR = 1
EXIT_START_ERROR = 3
SIMULATOR_URL_SETTING = "DEVHOST_SIMULATOR_URL"
READY_MARKER = "devhost ready:"
HOSTNAME_SETTING = "WEBSITE_HOSTNAME"
RPC_HOST = "127.0.0.1"


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _bind(host: str, port: int, hint: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Lets a restarted devhost take its port back at once, while the old one is in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise AppLoadError(f"cannot listen on {host}:{port}: {error.strerror} ({hint})") from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    # URLs handed to clients must be dialable: a wildcard bind is reached through loopback.
    if host in {"0.0.0.0", ""}:
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _simulator_app(environ: dict[str, str], engine: Any = None) -> Any:
    try:
        from devhost.simulator.app import create_app
        from devhost.simulator.batches import BatchClock
        from devhost.simulator.config import SimulatorConfig
    except ImportError as error:
        logger.warning("model simulator not available (%s); serving without it", error)
        return None
    try:
        config = SimulatorConfig.from_env(environ)
    except ValueError as error:
        raise AppLoadError(f"model simulator settings: {error}") from None
    batch_clock = None
    if engine is not None and engine.time_skipping:
        # Batches follow the durable clock: skipping to an orchestrator's poll timer also
        # skips the simulated batch's processing delay.
        engine_clock = engine.clock
        batch_clock = BatchClock(lambda: engine_clock.now().timestamp())
    return create_app(config, batch_clock)


def _banner(host: FunctionHost, simulator_url: str | None, metrics: bool) -> Iterator[str]:
    app = host.app
    yield f"devhost: serving {host.settings.script_root}"
    yield "Functions:"
    for http in app.http:
        if http.info.unsupported:
            continue  # listed below, with the reason
        methods = ",".join(http.methods)
        yield f"  {http.info.name}: [{methods}] {host.function_url(http)} ({http.auth_level})"
    for timer in app.timers:
        yield f"  {timer.info.name}: timerTrigger '{timer.schedule.expression}'"
    for info in app.durable:
        yield f"  {info.name}: {info.trigger_type}"
    for info in app.unsupported:
        reason = info.unsupported or "trigger type not supported"
        yield f"  {info.name}: {info.trigger_type} (not served: {reason})"
    keys = host.keys
    for label, name in (
        ("Master key", "master"),
        ("Function key", "function"),
        ("Durable system key", "durable_system"),
    ):
        from_setting = name in keys.from_settings
        yield f"{label}: {f'(from {KEY_SETTINGS[name]})' if from_setting else getattr(keys, name)}"
    if host.engine is not None:
        yield (
            f"Durable task hub {app.config.hub_name}: "
            f"{host.public_base_url}/runtime/webhooks/durabletask (durable system key)"
        )
    if simulator_url:
        yield f"Model simulator: {simulator_url}/v1"
    if metrics:
        yield f"Metrics of every process: {host.public_base_url}/admin/metrics (master key)"
    yield f"{READY_MARKER} {host.public_base_url}"


class _Server:
    """A uvicorn server that leaves signal handling to devhost, which runs two of them."""

    def __init__(self, app: Any, sock: socket.socket, *, stops_last: bool = False) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.sock = sock
        self.stops_last = stops_last
        self.server: uvicorn.Server = Quiet(
            uvicorn.Config(app, lifespan="on", log_config=None, access_log=False)
        )

    async def serve(self) -> None:
        await self.server.serve(sockets=[self.sock])


async def _serve(
    host: FunctionHost, servers: list[_Server], simulator_url: str | None, metrics: bool
) -> int:
    loop = asyncio.get_running_loop()

    signals_seen = 0

    def request_exit(*, last: bool = False) -> None:
        for item in servers:
            if last or not item.stops_last:
                item.server.should_exit = True

    def on_signal() -> None:
        # The first signal stops gracefully (engine and timers shut down); a second one hurries.
        nonlocal signals_seen
        signals_seen += 1
        request_exit(last=signals_seen > 1)
        if signals_seen > 1:
            for item in servers:
                item.server.force_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    tasks = [asyncio.create_task(item.serve()) for item in servers]
    main = servers[0].server
    while not all(item.server.started for item in servers):
        if any(task.done() for task in tasks):
            request_exit(last=True)
            await asyncio.gather(*tasks, return_exceptions=True)
            print("devhost: a server failed to start; see the log above", file=sys.stderr)
            return EXIT_START_ERROR
        await asyncio.sleep(0.005)
    print("\n".join(_banner(host, simulator_url, metrics)), flush=True)
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    request_exit()
    # The metrics receiver outlives the rest: worker processes flush their last export to it
    # as they exit, and an exporter that finds nobody listening retries before giving up.
    first = [task for task, item in zip(tasks, servers, strict=True) if not item.stops_last]
    results = await asyncio.gather(*first, return_exceptions=True)
    # The app in this process sends its last metrics while the receiver still listens (in a
    # thread: the receiver is served by this loop); left to interpreter exit, the final export
    # would find nobody there and log an error at every stop.
    await asyncio.to_thread(_shut_down_meter_provider)
    request_exit(last=True)
    results += await asyncio.gather(*(t for t in tasks if t not in first), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            logger.error("server stopped with an error", exc_info=result)
            return EXIT_START_ERROR
    logger.info("devhost stopped")
    return 0 if main.started else EXIT_START_ERROR


def _shut_down_meter_provider() -> None:
    from opentelemetry import metrics

    shutdown = getattr(metrics.get_meter_provider(), "shutdown", None)
    if shutdown is not None:  # an SDK provider; the API's proxy has nothing to flush
        shutdown()


def run(settings: HostSettings) -> int:
    environ = os.environ
    try:
        load_local_settings(settings.script_root, environ)
        main_sock = _bind(settings.host, settings.port, "choose another with --port")
        public_base_url = _url(settings.host, main_sock)
        # As Core Tools does: the app can build its own URLs from the configured host name.
        environ.setdefault(HOSTNAME_SETTING, public_base_url.removeprefix("http://"))
        servers: list[Any] = [main_sock]
        simulator_url: str | None = None
        if settings.simulator_port:
            sim_sock = _bind(
                settings.host,
                settings.simulator_port,
                "choose another with --simulator-port, or 0 to run without the simulator",
            )
            simulator_url = _url(settings.host, sim_sock)
            # Apps that want the in-process simulator can read its address from this setting.
            environ[SIMULATOR_URL_SETTING] = f"{simulator_url}/v1"
            servers.append(sim_sock)

        from devhost import metrics_view
        from devhost.host import FunctionHost, load_app
        from devhost.server import build_app, build_rpc_app

        metrics: metrics_view.MetricTotals | None = None
        metrics_sock: socket.socket | None = None
        if metrics_view.wanted(environ):
            # Before the app is imported: its processes read these when telemetry starts.
            metrics_sock = _bind(RPC_HOST, 0, "no free loopback port for the metrics receiver")
            metrics, token = metrics_view.MetricTotals(), metrics_view.new_token()
            receiver = _url(RPC_HOST, metrics_sock)
            environ.update(metrics_view.exporter_environment(receiver, token, environ))
        loaded, raw_functions = load_app(settings, environ)
        rpc_sock: socket.socket | None = None
        if loaded.needs_durable_engine:
            # The SDK's keyless RPC: loopback only, any free port, never the public listener.
            rpc_sock = _bind(RPC_HOST, 0, "no free loopback port for the Durable RPC listener")
        host = FunctionHost(
            settings,
            loaded,
            raw_functions,
            public_base_url=public_base_url,
            rpc_listener_url=_url(RPC_HOST, rpc_sock) if rpc_sock else None,
        )
        apps: list[Any] = [build_app(host, metrics)]
        if simulator_url:
            sim_app = _simulator_app(dict(environ), host.engine)
            if sim_app is None:
                servers[1].close()
                servers.pop()
                simulator_url = None
                environ.pop(SIMULATOR_URL_SETTING, None)
            else:
                apps.append(sim_app)
        if rpc_sock is not None:
            servers.append(rpc_sock)
            apps.append(build_rpc_app(host))
        if metrics is not None and metrics_sock is not None:
            servers.append(metrics_sock)
            apps.append(metrics_view.build_receiver_app(metrics, token))
    except AppLoadError as error:
        print(f"devhost: {error}", file=sys.stderr, flush=True)
        return EXIT_LOAD_ERROR

    from uvicorn import Config

    loop_factory = Config(app=apps[0], loop="auto", log_config=None).get_loop_factory()
    wrapped = [
        _Server(app, sock, stops_last=sock is metrics_sock)
        for app, sock in zip(apps, servers, strict=True)
    ]
    runner = asyncio.Runner(loop_factory=loop_factory) if loop_factory else asyncio.Runner()
    with runner:
        return runner.run(_serve(host, wrapped, simulator_url, metrics is not None))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv, os.environ)
    except ValueError as error:
        print(f"devhost: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
