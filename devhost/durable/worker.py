"""An activity worker process: `python -m devhost.durable.worker --script-root DIR --fd N`.

The Functions host runs Python functions in language worker processes, several of them with
FUNCTIONS_WORKER_PROCESS_COUNT, because one interpreter runs Python on one core at a time. This is
devhost's counterpart for activities: it imports the app once, then runs the activities the
engine sends over the socket `--fd` concurrently (async ones on its event loop, sync ones in a
thread pool) and sends each outcome back. Durable state stays with the engine, so a worker holds
nothing that a crash could lose: the engine runs its in-flight activities again elsewhere.

Wire format, one JSON object per line each way:
    engine -> worker  {"id": 7, "name": "activity", "input": "<JSON text or null>",
                       "trace": {"trace_parent": "00-...", "trace_state": ""} or null}
    worker -> engine  {"ready": <pid>}  once, after the app is imported
                      {"id": 7, "succeeded": true, "result": "...", "reason": null, "details": null}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

logger = logging.getLogger("devhost.worker")

STREAM_LIMIT = 256 * 1024 * 1024  # activity inputs and outputs can be large JSON documents


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when the host dies, however it dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
    if os.getppid() != parent_pid:  # the host died before the hook was in place
        os._exit(1)


def load_activities(script_root: Path) -> dict[str, Any]:
    from devhost.durable.activities import ActivityFunction
    from devhost.loader import SCRIPT_FILE, import_app, index_functions

    app = import_app(script_root)
    activities: dict[str, ActivityFunction] = {}
    for fn in index_functions(app, script_root / SCRIPT_FILE):
        trigger = fn.get_trigger()
        if trigger is not None and trigger.get_binding_name() == "activityTrigger":
            name = fn.get_function_name()
            activities[name] = ActivityFunction(name, trigger.name, fn.get_user_function())
    return activities


async def serve(
    sock: socket.socket, activities: dict[str, Any], threads: int, script_root: Path
) -> None:
    from devhost.durable.activities import invoke_activity, missing_function
    from devhost.trace_context import InvocationTrace

    reader, writer = await asyncio.open_connection(sock=sock, limit=STREAM_LIMIT)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="activity")
    running: set[asyncio.Task[None]] = set()

    async def run(message: dict[str, Any]) -> None:
        activity = activities.get(message["name"])
        if activity is None:
            outcome = missing_function(message["name"], "an activity")
        else:
            outcome = await invoke_activity(
                activity,
                message["input"],
                pool,
                InvocationTrace.from_message(message.get("trace")),
                function_directory=str(script_root),
            )
        reply = {
            "id": message["id"],
            "succeeded": outcome.succeeded,
            "result": outcome.result,
            "reason": outcome.reason,
            "details": outcome.details,
        }
        writer.write(json.dumps(reply).encode() + b"\n")

    writer.write(json.dumps({"ready": os.getpid()}).encode() + b"\n")
    try:
        while line := await reader.readline():
            task = asyncio.create_task(run(json.loads(line)))
            running.add(task)
            task.add_done_callback(running.discard)
    finally:
        # The engine closed its end (host stopping): nothing is waiting for these outcomes.
        for task in running:
            task.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            writer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.durable.worker")
    parser.add_argument("--script-root", type=Path, required=True)
    parser.add_argument("--fd", type=int, required=True, help="the socket to the engine")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--threads", type=int, default=32, help="pool for sync activities")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    _die_with_parent(args.parent_pid)
    # SIGINT goes to the whole process group on Ctrl+C; the host decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s [worker {os.getpid()}] %(name)s: %(message)s",
    )
    sock = socket.socket(fileno=args.fd)
    try:
        activities = load_activities(args.script_root)
    except Exception as error:  # AppLoadError already names the file and line
        logger.error("worker could not load the app: %s", error)
        return 1
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(serve(sock, activities, args.threads, args.script_root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
