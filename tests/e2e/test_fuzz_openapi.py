"""Schemathesis against the OpenAPI document, on the app served by devhost.

Its coverage, fuzzing and stateful phases (the stateful one follows the document's links from a
started run to its status and cancel routes) run with every check: no 5xx, no response outside
its schema, no undocumented status code or content type, bad input refused, auth not ignored.
Once with a fixed seed, so a failure reproduces, and once with a random one, so each run looks
somewhere new; the seed is printed either way.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import PROJECT_ROOT, app_env

pytestmark = pytest.mark.slow

FIXED_SEED = 20261202
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100"))


@pytest.fixture(scope="module")
def fuzzed_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    # Without App Service Authentication the key's holder is the operator, who may use every
    # route; the request limits would only slow the fuzzer down.
    env = app_env(tmp_path_factory.mktemp("fuzz"), WEBSITE_AUTH_ENABLED="false")
    with start_devhost(
        PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT"
    ) as host:
        yield host


@pytest.mark.parametrize("seed", [FIXED_SEED, random.randrange(2**32)], ids=["fixed", "random"])
def test_schemathesis_finds_nothing(fuzzed_host: Devhost, tmp_path: Path, seed: int) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        fuzzed_host.url("/api/openapi.json"),
        "--checks",
        "all",
        "--phases",
        "coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(seed),
        "--header",
        f"x-functions-key: {fuzzed_host.function_key}",
        "--request-timeout",
        "30",
        "--workers",
        "2",
        "--no-color",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
    )
    summary = done.stdout[done.stdout.rfind("SUMMARY") :] if "SUMMARY" in done.stdout else ""
    print(f"schemathesis seed {seed}\n{summary}")
    assert done.returncode == 0, f"seed {seed}\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    generated = re.search(r"(\d+) generated", done.stdout)
    assert generated and int(generated.group(1)) > 100, done.stdout[-3000:]
