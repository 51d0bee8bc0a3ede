"""Starts Azurite's Blob service (tools/azurite) for tests: loopback, a free port, in memory.

`--skipApiVersionCheck` because the SDK sends a newer API version than Azurite accepts otherwise;
`--loose` so headers Azurite does not know are ignored rather than refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AZURITE_BLOB = REPO / "tools" / "azurite" / "node_modules" / "azurite" / "dist" / "src" / "blob"
INSTALL_HINT = "npm ci --prefix tools/azurite"
# Azurite's published development account (the same for every installation).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
READY = "Azurite Blob service successfully listens on "


@dataclass(frozen=True)
class Azurite:
    blob_endpoint: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )


def missing_reason() -> str | None:
    """Why Azurite cannot start here, or None when it can."""
    if shutil.which("node") is None:
        return f"node is not installed; install Node.js 20+, then run: {INSTALL_HINT}"
    if not (AZURITE_BLOB / "main.js").is_file():
        return f"Azurite is not installed; run: {INSTALL_HINT}"
    return None


@contextmanager
def run_azurite(timeout_s: float = 60.0) -> Iterator[Azurite]:
    node = shutil.which("node")
    assert node is not None, missing_reason()
    # Azurite writes nothing with --inMemoryPersistence, but runs in a folder of its own anyway.
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        proc = subprocess.Popen(
            [
                node,
                str(AZURITE_BLOB / "main.js"),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",  # a free port, printed in the ready line
                "--skipApiVersionCheck",
                "--inMemoryPersistence",
                "--extentMemoryLimit",
                "512",
                "--loose",
                "--silent",
                "--disableTelemetry",
            ],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # The well-known account only, whatever the caller's environment names.
            env={k: v for k, v in os.environ.items() if k != "AZURITE_ACCOUNTS"},
        )
        try:
            yield Azurite(_wait_ready(proc, timeout_s))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    address: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not address:
                seen.append(line.rstrip())
                if line.startswith(READY):
                    address.append(line[len(READY) :].strip())
            # Keep draining so that Azurite never blocks on a full pipe.

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout_s
    while not address and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not address:
        raise RuntimeError(f"Azurite did not start: {seen[-5:]!r}")
    return f"{address[0]}/{ACCOUNT}"
