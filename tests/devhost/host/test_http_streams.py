"""HTTP streams mode over real HTTP: an app that imports the FastAPI extension gets Starlette
requests and its FastAPI responses go out as Azure's worker sends them, streamed as produced."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devhost.testing import (
    Devhost,
    devhost_environment,
    refused_start,
    start_devhost,
)
from tests.devhost.host.conftest import APPS

STREAMS_APP = APPS / "http_streams"
LIMIT = 1000
INIT_INDEXING = "PYTHON_ENABLE_INIT_INDEXING"


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stream-marks")


@pytest.fixture(scope="module")
def streams(markers: Path) -> Iterator[Devhost]:
    env = {
        INIT_INDEXING: "1",
        "MARKER_DIR": str(markers),
        "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(LIMIT),
    }
    with start_devhost(STREAMS_APP, env=env) as host:
        yield host


def _wait_for(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and (text := path.read_text(encoding="utf-8")):
            return text
        time.sleep(0.05)
    raise AssertionError(f"{path.name} was never written")


def test_chunks_arrive_as_they_are_produced(streams: Devhost, markers: Path) -> None:
    arrivals: list[tuple[float, str]] = []
    started = time.perf_counter()
    params = {"chunks": "4", "wait": "0.4", "tag": "timed"}
    with httpx.stream("GET", streams.url("/api/stream"), params=params, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        for text in response.iter_text():
            arrivals.append((time.perf_counter() - started, text))
    total = time.perf_counter() - started
    assert "".join(text for _, text in arrivals) == "".join(f"chunk {n}\n" for n in range(4))
    first = arrivals[0][0]
    # Three waits of 0.4 s lie between the first chunk and the end: buffered, they would coincide.
    assert total >= 1.2
    assert first < total - 1.0, (first, total)
    assert _wait_for(markers / "timed") == "finished 4"


def test_a_disconnect_cancels_the_stream(streams: Devhost, markers: Path) -> None:
    port = int(streams.base_url.rsplit(":", 1)[1])
    head = b"GET /api/stream?chunks=100&wait=0.2&tag=dropped HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        received = b""
        while b"chunk 0" not in received:  # the head and the first chunk may come apart
            piece = sock.recv(4096)
            assert piece, received
            received += piece
    outcome = _wait_for(markers / "dropped")
    kind, sent = outcome.split()
    assert kind == "cancelled"
    assert int(sent) < 100


def test_route_query_and_json_body_reach_the_function(streams: Devhost) -> None:
    response = httpx.post(
        streams.url("/api/things/caf%C3%A9/7"),
        params={"q": "a b", "page": "2"},
        json={"hello": ["world", 1]},
        headers={"x-functions-key": streams.function_key},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "kind": "café",
        "n": "7",
        "query": {"q": "a b", "page": "2"},
        "body": {"hello": ["world", 1]},
        "method": "POST",
        "path": "/api/things/café/7",
    }


def test_the_key_check_still_applies(streams: Devhost) -> None:
    response = httpx.post(streams.url("/api/things/a/1"), json={}, timeout=10)
    assert response.status_code == 401


def test_a_str_from_a_sync_function_is_json(streams: Devhost) -> None:
    response = httpx.get(streams.url("/api/sync/word"), timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == "WORD"


def test_the_body_can_be_streamed_by_the_function(streams: Devhost) -> None:
    response = httpx.post(
        streams.url("/api/raw"), params={"tag": "echoed"}, content=b"\x00\x01 raw", timeout=10
    )
    assert response.status_code == 201
    assert response.content == b"\x00\x01 raw"


def test_a_classic_response_is_a_500_problem(streams: Devhost) -> None:
    response = httpx.get(streams.url("/api/classic"), timeout=10)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "'classic' failed" in response.json()["detail"]
    streams.wait_for_output("in HTTP streams mode an HTTP function returns a FastAPI response")


def test_an_exception_is_a_500_problem(streams: Devhost) -> None:
    response = httpx.get(streams.url("/api/fails"), timeout=10)
    assert response.status_code == 500
    assert "'fails' failed" in response.json()["detail"]


def test_a_body_over_the_limit_is_413_without_invoking(streams: Devhost, markers: Path) -> None:
    over = httpx.post(
        streams.url("/api/raw"), params={"tag": "over"}, content=b"x" * (LIMIT + 1), timeout=10
    )
    assert over.status_code == 413
    within = httpx.post(
        streams.url("/api/raw"), params={"tag": "within"}, content=b"x" * LIMIT, timeout=10
    )
    assert within.status_code == 201
    # The function marks each call as it starts; only the second one got there.
    assert _wait_for(markers / "raw-within") == "invoked"
    assert not (markers / "raw-over").exists()


def test_a_durable_client_route_starts_an_orchestration(streams: Devhost) -> None:
    started = httpx.post(streams.url("/api/start/echo"), json={"x": 1}, timeout=10)
    assert started.status_code == 200
    instance_id = started.json()["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = httpx.get(streams.url(f"/api/instances/{instance_id}"), timeout=10).json()
        if status["runtimeStatus"] == "Completed":
            break
        time.sleep(0.1)
    assert status == {"runtimeStatus": "Completed", "output": {"echoed": {"x": 1}}}


def _refusal(app: Path, tmp_path: Path, env: dict[str, str]) -> str:
    """Start `app` expecting it not to load; its error output."""
    environment = devhost_environment(env)
    environment.pop(INIT_INDEXING, None)
    environment.update(env)
    return refused_start(app, tmp_path, environment)


def test_the_extension_without_init_indexing_does_not_load(tmp_path: Path) -> None:
    stderr = _refusal(STREAMS_APP, tmp_path, {"MARKER_DIR": str(tmp_path)})
    assert f"{INIT_INDEXING}=1" in stderr
    assert "azurefunctions.extensions.http.fastapi" in stderr
    assert "Traceback" not in stderr


def test_a_false_init_indexing_does_not_load_either(tmp_path: Path) -> None:
    stderr = _refusal(STREAMS_APP, tmp_path, {INIT_INDEXING: "false", "MARKER_DIR": "."})
    assert f"{INIT_INDEXING}=1" in stderr


def test_a_classic_annotation_in_streams_mode_does_not_load(tmp_path: Path) -> None:
    stderr = _refusal(APPS / "broken_streams_annotation", tmp_path, {INIT_INDEXING: "1"})
    assert "function 'old_style'" in stderr
    assert "parameter 'req' is annotated azure.functions._http.HttpRequest" in stderr
    assert "starlette.requests.Request" in stderr
    assert "Traceback" not in stderr


def test_a_classic_return_annotation_in_streams_mode_does_not_load(tmp_path: Path) -> None:
    stderr = _refusal(APPS / "broken_streams_return", tmp_path, {INIT_INDEXING: "1"})
    assert "function 'mixed': its return is annotated azure.functions._http.HttpResponse" in stderr
    assert "starlette.responses.StreamingResponse" in stderr
