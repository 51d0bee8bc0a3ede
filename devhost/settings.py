"""devhost's own configuration: command-line flags, with environment variables as defaults."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 7071
DEFAULT_SIMULATOR_PORT = 7072
DEFAULT_HOST = "127.0.0.1"
DATA_DIR_NAME = ".devhost"


@dataclass(frozen=True, slots=True)
class HostSettings:
    """What `python -m devhost` was asked to do.

    `port` 0 binds any free port (the ready line says which); `simulator_port` 0 disables the
    in-process model simulator, so that apps can be pointed at an external one.
    """

    script_root: Path
    host: str
    port: int
    simulator_port: int
    data_dir: Path
    time_skipping: bool
    log_level: str


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {port}")
    return port


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="Serve a v2-model Python Azure Functions app locally, like `func start`.",
    )
    parser.add_argument(
        "--script-root",
        type=Path,
        default=Path(environ.get("DEVHOST_SCRIPT_ROOT", ".")),
        help="folder holding function_app.py and host.json (default: current directory)",
    )
    parser.add_argument("--host", default=environ.get("DEVHOST_HOST", DEFAULT_HOST))
    parser.add_argument(
        "--port",
        type=_port,
        default=_env_int(environ, "DEVHOST_PORT", DEFAULT_PORT),
        help="HTTP port (default 7071; 0 picks a free port)",
    )
    parser.add_argument(
        "--simulator-port",
        type=_port,
        default=_env_int(environ, "DEVHOST_SIMULATOR_PORT", DEFAULT_SIMULATOR_PORT),
        help="model simulator port (default 7072; 0 disables it)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(environ["DEVHOST_DATA_DIR"]) if environ.get("DEVHOST_DATA_DIR") else None,
        help="where durable state lives (default: <script root>/.devhost)",
    )
    parser.add_argument(
        "--time-skipping",
        action="store_true",
        default=environ.get("DEVHOST_TIME_SKIPPING", "").lower() in {"1", "true", "yes"},
        help="durable timers fire without waiting for the wall clock (tests)",
    )
    parser.add_argument(
        "--log-level",
        default=environ.get("DEVHOST_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
    )
    return parser


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> HostSettings:
    """Parse flags; exits with status 2 and a usage message on bad input (argparse)."""
    parser = build_parser(environ)
    args = parser.parse_args(list(argv))
    script_root: Path = args.script_root.expanduser().resolve()
    if not script_root.is_dir():
        parser.error(f"--script-root {script_root} is not a directory")
    data_dir: Path = (args.data_dir or script_root / DATA_DIR_NAME).expanduser().resolve()
    return HostSettings(
        script_root=script_root,
        host=args.host,
        port=args.port,
        simulator_port=args.simulator_port,
        data_dir=data_dir,
        time_skipping=args.time_skipping,
        log_level=args.log_level,
    )
