"""devhost start-up time: from process spawn to the first successful HTTP response.

    .venv/bin/python bench/devhost_startup.py [--runs 7] [--script-root DIR ...] [--no-simulator]

Each run spawns `python -m devhost` on free ports, polls `GET /` every 5 ms until it answers 200,
records the elapsed time, and stops the process. Prints every run and the median per app.
The target is at most 2 s.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from devhost.testing import devhost_command, devhost_environment, free_port  # noqa: E402

DEFAULT_APPS = [ROOT / "tests" / "devhost" / "apps" / "http_basic", ROOT]
POLL_S = 0.005
TIMEOUT_S = 30.0


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def measure_once(script_root: Path, *, simulator: bool) -> float:
    port = free_port()
    simulator_port = free_port() if simulator else 0
    data_dir = Path(tempfile.mkdtemp(prefix="devhost-bench-"))
    env = devhost_environment(
        {
            "EVERY_SECOND": "0 0 0 1 1 *",
            "TIMER_MARKER_DIR": str(data_dir),
            "PYTHON_ENABLE_INIT_INDEXING": "1",  # the routes take the HTTP streams types
            "BACKUP_SCHEDULE": "0 5 * * * *",  # the app's timer reads it, as in Azure
            "COST_REPORT_SCHEDULE": "0 15 0 * * *",
            "COMPLIANCE_REPORT_SCHEDULE": "0 30 0 * * *",
        }
    )
    env.setdefault("TASKHUB_NAME", "benchhub")
    command = devhost_command(
        script_root,
        "--port",
        str(port),
        "--simulator-port",
        str(simulator_port),
        "--data-dir",
        str(data_dir),
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=script_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while not _answers(port):
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"devhost exited with {process.returncode}:\n{error}")
            if time.perf_counter() - started > TIMEOUT_S:
                raise RuntimeError("devhost did not answer in time")
            time.sleep(POLL_S)
        return time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--script-root", type=Path, action="append", dest="apps")
    parser.add_argument("--no-simulator", action="store_true")
    args = parser.parse_args()
    apps: list[Path] = (
        [a.resolve() for a in args.apps]
        if args.apps
        else [a for a in DEFAULT_APPS if (a / "function_app.py").is_file()]
    )
    simulator = not args.no_simulator
    print(f"python {sys.version.split()[0]}, {args.runs} runs per app, simulator={simulator}")
    failed = False
    for app in apps:
        # One warm-up run so that bytecode caches exist, as they do after the first `func start`.
        measure_once(app, simulator=not args.no_simulator)
        times = [measure_once(app, simulator=not args.no_simulator) for _ in range(args.runs)]
        median = statistics.median(times)
        runs = " ".join(f"{t:.3f}" for t in times)
        print(
            f"{app.relative_to(ROOT) if app != ROOT else '.'}: median {median:.3f}s "
            f"(min {min(times):.3f}s, max {max(times):.3f}s) runs: {runs}"
        )
        failed |= median > 2.0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
