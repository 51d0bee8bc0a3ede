"""Start devhost as a subprocess, for end-to-end tests and benchmarks.

Typical use::

    from devhost.testing import start_devhost

    with start_devhost(Path("."), env={"TASKHUB_NAME": "e2e"}, simulator=True,
                       simulator_setting="MODEL_ENDPOINT") as devhost:
        response = httpx.post(devhost.url("/api/agents/echo/runs"), json=...,
                              headers=devhost.function_headers)
        devhost.kill()      # SIGKILL, as a crash would
        devhost.restart()   # same data dir and ports: durable state survives

What it guarantees:

- Free ports: devhost binds port 0 itself and reports the port on its ready line; the simulator
  port is picked just before start-up. `restart()` reuses both, so URLs stay valid.
- Known keys: the master, function and durable system keys are generated here and passed in the
  environment; with `generate_keys=True` devhost makes (or reuses) its own, read from its banner.
- Ready means serving: the context manager yields only after devhost printed its ready line.
  If devhost exits or takes longer than `ready_timeout`, `DevhostStartError` carries its output.
- No leftovers: on leaving the block the process gets SIGTERM, then SIGKILL after `stop_timeout`;
  on Linux the child also dies with the process that started it (PR_SET_PDEATHSIG), so a killed
  test run leaves no server behind. A temporary data dir made here is removed afterwards.
- Output: stdout and stderr are merged and kept (`output`); `echo=True` also copies them to this
  process's stderr, which is handy when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devhost.auth import DURABLE_KEY_SETTING, FUNCTION_KEY_SETTING, MASTER_KEY_SETTING

KEY_SETTINGS = (MASTER_KEY_SETTING, FUNCTION_KEY_SETTING, DURABLE_KEY_SETTING)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
READY_LINE = re.compile(r"^devhost ready: (?P<url>http://\S+)\s*$")
KEY_LINE = re.compile(r"^(?P<label>Master|Function|Durable system) key: (?P<key>\S+)\s*$")
KEY_HEADER = "x-functions-key"


class DevhostStartError(RuntimeError):
    """devhost exited or did not become ready; the message holds its output."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now (another process could still take it before you bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def devhost_command(script_root: Path, *args: str, python: str = sys.executable) -> list[str]:
    """The command line that runs devhost for `script_root` with extra flags."""
    return [python, "-m", "devhost", "--script-root", str(Path(script_root).resolve()), *args]


def devhost_environment(
    env: Mapping[str, str] | None = None, *, inherit: bool = True
) -> dict[str, str]:
    """The environment for a devhost child: this one (or none), `env`, and devhost importable."""
    merged = dict(os.environ) if inherit else {"PATH": os.environ.get("PATH", "")}
    merged.update(env or {})
    python_path = merged.get("PYTHONPATH", "")
    merged["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), python_path) if p)
    merged["PYTHONUNBUFFERED"] = "1"
    return merged


def refused_start(script_root: Path, data_dir: Path, environ: Mapping[str, str]) -> str:
    """Start devhost for `script_root` expecting it to refuse to start (exit 1); its error
    output. `environ` is the whole environment (see `devhost_environment`)."""
    result = subprocess.run(
        devhost_command(
            script_root, "--port", "0", "--simulator-port", "0", "--data-dir", str(data_dir)
        ),
        env=dict(environ),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    return result.stderr


def _pdeathsig_hook() -> Callable[[], None] | None:
    """A pre-exec hook that has the child SIGKILLed when its parent dies (Linux), else None.

    Everything is resolved here, in the parent: between fork and exec the child must not import
    anything, since another thread may have held the import lock at the moment of the fork.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    kill_signal = int(signal.SIGKILL)

    def hook() -> None:
        prctl(pr_set_pdeathsig, kill_signal)

    return hook


@dataclass(eq=False)
class Devhost:
    """A running devhost child process; see the module docstring."""

    script_root: Path
    data_dir: Path
    master_key: str
    function_key: str
    durable_key: str
    simulator_port: int | None
    env: dict[str, str] = field(repr=False)
    extra_args: tuple[str, ...] = ()
    time_skipping: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    ready_timeout: float = 30.0
    stop_timeout: float = 10.0
    echo: bool = False
    die_with_parent: bool = True
    base_url: str = ""
    process: subprocess.Popen[str] | None = field(default=None, repr=False)
    _lines: list[str] = field(default_factory=list, repr=False)
    _reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def simulator_url(self) -> str | None:
        """Root URL of the in-process model simulator (OpenAI API under /v1), or None."""
        if self.simulator_port is None:
            return None
        return f"http://{self.host}:{self.simulator_port}"

    @property
    def master_headers(self) -> dict[str, str]:
        return {KEY_HEADER: self.master_key}

    @property
    def function_headers(self) -> dict[str, str]:
        return {KEY_HEADER: self.function_key}

    @property
    def durable_headers(self) -> dict[str, str]:
        return {KEY_HEADER: self.durable_key}

    @property
    def output(self) -> str:
        """Everything devhost printed so far (stdout and stderr, merged)."""
        return "".join(self._lines)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for_output(self, text: str, timeout: float = 5.0) -> None:
        """Wait until devhost has printed `text` (its output reaches us a little after the fact)."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"devhost did not print {text!r} within {timeout}s")
            time.sleep(0.02)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def command(self) -> list[str]:
        args = ["--host", self.host, "--port", str(self.port)]
        args += ["--simulator-port", str(self.simulator_port or 0)]
        args += ["--data-dir", str(self.data_dir)]
        if self.time_skipping:
            args.append("--time-skipping")
        return devhost_command(self.script_root, *args, *self.extra_args)

    def start(self) -> None:
        """Spawn devhost and wait until it serves; raises DevhostStartError otherwise."""
        if self.running:
            raise RuntimeError("devhost is already running")
        ready = threading.Event()
        self._lines.append(f"--- devhost start {time.strftime('%H:%M:%S')} ---\n")
        pre_exec = _pdeathsig_hook() if self.die_with_parent else None
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.script_root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=pre_exec,
        )
        self._reader = threading.Thread(
            target=self._read, args=(self.process, ready), name="devhost-output", daemon=True
        )
        self._reader.start()
        deadline = time.monotonic() + self.ready_timeout
        while not ready.wait(0.01):
            if self.process.poll() is not None:
                self._reader.join(timeout=2)
                raise DevhostStartError(
                    f"devhost exited with status {self.process.returncode} before it was ready:\n"
                    f"{self.output}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise DevhostStartError(
                    f"devhost was not ready within {self.ready_timeout:.0f}s:\n{self.output}"
                )

    def _read(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._lines.append(line)
            if self.echo:
                sys.stderr.write(f"[devhost] {line}")
            key = KEY_LINE.match(line)
            if key and not key.group("key").startswith("(from"):
                attribute = {"Master": "master_key", "Function": "function_key"}.get(
                    key.group("label"), "durable_key"
                )
                setattr(self, attribute, key.group("key"))
            match = READY_LINE.match(line)
            if match and not ready.is_set():
                self.base_url = match.group("url")
                # Keep the port for restarts so that URLs handed out stay valid.
                self.port = int(self.base_url.rsplit(":", 1)[1])
                ready.set()

    def stop(self, timeout: float | None = None) -> int:
        """Graceful stop (SIGTERM), SIGKILL if it takes longer than `timeout`; the exit status."""
        process = self.process
        if process is None:
            raise RuntimeError("devhost was never started")
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._join_reader()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed or shut down."""
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._join_reader()

    def restart(self) -> None:
        """Stop if running, then start again on the same data dir, ports and keys."""
        if self.running:
            self.stop()
        self.start()

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=5)


@contextlib.contextmanager
def start_devhost(
    script_root: Path | str,
    *,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    time_skipping: bool = True,
    simulator: bool = False,
    simulator_setting: str | None = None,
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 30.0,
    stop_timeout: float = 10.0,
    echo: bool = False,
    die_with_parent: bool = True,
    generate_keys: bool = False,
) -> Iterator[Devhost]:
    """Run devhost for `script_root` for the duration of the block.

    env: app settings for the child, on top of this process's environment (unless
        `inherit_env=False`). They win over local.settings.json, as in Core Tools.
    simulator: also serve the model simulator in the same process, on a free port.
    simulator_setting: name of an app setting (e.g. "MODEL_ENDPOINT") to set to the simulator's
        OpenAI base URL (`<simulator_url>/v1`). Leave it unset to point the app at an external
        simulator through `env` instead.
    data_dir: where durable state (and devhost's own keys) live; default a temporary folder
        removed afterwards.
    generate_keys: let devhost make or reuse its keys (kept in the data dir) instead of passing
        them as settings; the Devhost's keys are then read from the banner.
    """
    root = Path(script_root).resolve()
    if not (root / "function_app.py").is_file():
        raise ValueError(f"{root} has no function_app.py")
    owned_dir = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="devhost-")) if data_dir is None else data_dir
    simulator_port = free_port() if simulator else None
    settings = dict(env or {})
    if simulator_setting:
        if simulator_port is None:
            raise ValueError("simulator_setting needs simulator=True")
        settings[simulator_setting] = f"http://127.0.0.1:{simulator_port}/v1"
    keys = {setting: secrets.token_urlsafe(32) for setting in KEY_SETTINGS}
    environment = devhost_environment(settings, inherit=inherit_env)
    if generate_keys:
        for setting in KEY_SETTINGS:
            environment.pop(setting, None)
    else:
        environment.update(keys)
    devhost = Devhost(
        script_root=root,
        data_dir=directory,
        master_key=keys[MASTER_KEY_SETTING],
        function_key=keys[FUNCTION_KEY_SETTING],
        durable_key=keys[DURABLE_KEY_SETTING],
        simulator_port=simulator_port,
        env=environment,
        extra_args=tuple(extra_args),
        time_skipping=time_skipping,
        ready_timeout=ready_timeout,
        stop_timeout=stop_timeout,
        echo=echo,
        die_with_parent=die_with_parent,
    )
    try:
        devhost.start()
        yield devhost
    finally:
        if devhost.process is not None:
            devhost.stop()
        if owned_dir:
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def simulator_process(*args: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """``python -m devhost.simulator --port 0 <args>`` in a process of its own (so that what it
    counted survives a devhost it serves being killed); yields its OpenAI base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost.simulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("model simulator listening on http://127.0.0.1:"):
            raise DevhostStartError(f"the model simulator did not start: {line!r}")
        yield line.split()[-1]
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
