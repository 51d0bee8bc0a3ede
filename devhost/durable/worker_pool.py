"""Activity worker processes and the engine's channel to them.

With the app setting FUNCTIONS_WORKER_PROCESS_COUNT=N, devhost runs activities in N worker
processes (`devhost.durable.worker`) as the Functions host runs Python in N language workers, so
activities use more than the one core a single interpreter can. The engine keeps orchestrations,
history and the work queue; a worker only runs the activity it is sent and answers its outcome.

Each activity goes to the ready worker with the fewest in flight. A worker that exits (crash,
SIGKILL, out of memory) is replaced; whatever it was running fails here with `WorkerLostError`,
and the engine runs those activities again (at-least-once, as after a host crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devhost.trace_context import InvocationTrace

from .activities import ActivityOutcome

logger = logging.getLogger(__name__)

WORKER_COUNT_SETTING = "FUNCTIONS_WORKER_PROCESS_COUNT"
MAX_WORKERS = 10  # Azure Functions allows 1 to 10 language worker processes
STREAM_LIMIT = 256 * 1024 * 1024
# A worker that dies before it is ready this many times in a row will not start: stop trying.
MAX_START_FAILURES = 3
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent.parent)


class WorkerLostError(RuntimeError):
    """The worker process running an activity exited before it answered."""


class WorkerStartError(WorkerLostError):
    """Worker processes keep exiting before they are ready (the app fails to load in them)."""


def worker_count(environ: dict[str, str] | os._Environ[str]) -> int:
    """FUNCTIONS_WORKER_PROCESS_COUNT as a number of worker processes; 0 when unset (in-process)."""
    raw = environ.get(WORKER_COUNT_SETTING, "").strip()
    if not raw:
        return 0
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"{WORKER_COUNT_SETTING} must be an integer, got {raw!r}") from None
    if not 1 <= count <= MAX_WORKERS:
        raise ValueError(f"{WORKER_COUNT_SETTING} must be between 1 and {MAX_WORKERS}, got {count}")
    return count


@dataclass(eq=False)
class _Worker:
    process: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ready: bool = False
    pending: dict[int, asyncio.Future[ActivityOutcome]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class ActivityWorkerPool:
    """`count` worker processes serving the activities of the app in `script_root`."""

    def __init__(
        self,
        script_root: Path,
        count: int,
        *,
        threads: int = 32,
        log_level: str = "INFO",
        python: str = sys.executable,
    ) -> None:
        if not 1 <= count <= MAX_WORKERS:
            raise ValueError(f"count must be between 1 and {MAX_WORKERS}")
        self.script_root = script_root
        self.count = count
        self._threads = threads
        self._log_level = log_level
        self._python = python
        self._workers: list[_Worker] = []
        self._changed: asyncio.Event | None = None
        self._next_id = 0
        self._start_failures = 0
        self._stopping = False

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers]

    async def start(self) -> None:
        """Spawn the workers; they import the app in the background, `invoke` waits for one."""
        self._changed = asyncio.Event()
        for _ in range(self.count):
            await self._spawn()
        logger.info("activity workers: %d processes (%s)", self.count, WORKER_COUNT_SETTING)

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # The worker imports devhost the way this process did, wherever it was started from.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p
        )
        try:
            process = await asyncio.create_subprocess_exec(
                self._python,
                "-m",
                "devhost.durable.worker",
                "--script-root",
                str(self.script_root),
                "--fd",
                str(theirs.fileno()),
                "--parent-pid",
                str(os.getpid()),
                "--threads",
                str(self._threads),
                "--log-level",
                self._log_level,
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=env,
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours, limit=STREAM_LIMIT)
        worker = _Worker(process, reader, writer)
        worker.task = asyncio.create_task(self._read(worker), name=f"worker-{process.pid}")
        self._workers.append(worker)

    async def invoke(
        self, name: str, input_text: str | None, trace: InvocationTrace | None = None
    ) -> ActivityOutcome:
        """Run activity `name` in a worker (in trace context `trace`); raises WorkerLostError
        if that worker dies first."""
        worker = await self._pick()
        self._next_id += 1
        call_id = self._next_id
        future: asyncio.Future[ActivityOutcome] = asyncio.get_running_loop().create_future()
        worker.pending[call_id] = future
        message = {
            "id": call_id,
            "name": name,
            "input": input_text,
            "trace": trace.to_message() if trace else None,
        }
        worker.writer.write(json.dumps(message).encode() + b"\n")
        return await future

    async def _pick(self) -> _Worker:
        assert self._changed is not None
        while True:
            if self._start_failures >= MAX_START_FAILURES:
                raise WorkerStartError(
                    f"activity worker processes exited {self._start_failures} times before they "
                    "were ready; see their log above"
                )
            ready = [worker for worker in self._workers if worker.ready]
            if ready:
                return min(ready, key=lambda worker: len(worker.pending))
            self._changed.clear()
            await self._changed.wait()

    async def _read(self, worker: _Worker) -> None:
        assert self._changed is not None
        try:
            while line := await worker.reader.readline():
                message = json.loads(line)
                if "ready" in message:
                    logger.info("activity worker %d ready", worker.process.pid)
                    worker.ready = True
                    self._start_failures = 0
                    self._changed.set()
                    continue
                future = worker.pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(
                        ActivityOutcome(
                            succeeded=message["succeeded"],
                            result=message["result"],
                            reason=message["reason"],
                            details=message["details"],
                        )
                    )
        except (ConnectionError, ValueError, asyncio.LimitOverrunError) as error:
            logger.error("activity worker %d: broken channel: %s", worker.process.pid, error)
        finally:
            await self._lost(worker)

    async def _lost(self, worker: _Worker) -> None:
        assert self._changed is not None
        if worker in self._workers:
            self._workers.remove(worker)
        with contextlib.suppress(Exception):
            worker.writer.close()
        if worker.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
        code = await worker.process.wait()
        in_flight = len(worker.pending)
        lost = WorkerLostError(f"activity worker process {worker.process.pid} exited ({code})")
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(lost)
        worker.pending.clear()
        if self._stopping:
            return
        logger.warning(
            "activity worker %d exited with %s, %d activities in flight; starting another",
            worker.process.pid,
            code,
            in_flight,
        )
        if not worker.ready:
            self._start_failures += 1
            self._changed.set()  # callers waiting for a worker re-check whether to give up
            if self._start_failures >= MAX_START_FAILURES:
                return
            await asyncio.sleep(0.5 * self._start_failures)
        await self._spawn()

    async def stop(self) -> None:
        """Close every channel (workers exit on EOF), then kill what is still running."""
        self._stopping = True
        workers, self._workers = list(self._workers), []
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.writer.close()
        for worker in workers:
            try:
                await asyncio.wait_for(worker.process.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()
            if worker.task is not None:
                worker.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker.task
