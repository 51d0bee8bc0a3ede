"""Bodies over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT are refused as Azure's host refuses them: by the
declared length before anything is read, and for a chunked body as soon as the count passes it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from devhost.testing import Devhost, start_devhost
from tests.devhost.host.conftest import HTTP_APP

LIMIT = 1000


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    env = {
        "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(LIMIT),
        "EVERY_SECOND": "0 0 0 1 1 *",
        "TIMER_MARKER_DIR": str(tmp_path_factory.mktemp("marks")),
    }
    with start_devhost(HTTP_APP, env=env) as host:
        yield host


def _raw(host: Devhost, head: bytes, body: bytes = b"") -> bytes:
    port = int(host.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        return sock.recv(4096)


def test_a_body_within_the_limit_arrives(limited: Devhost) -> None:
    response = httpx.put(limited.url("/api/echo/7"), content=b"x" * LIMIT, timeout=10)
    assert response.status_code == 200


def test_a_declared_length_over_the_limit_is_413_before_the_body_is_sent(limited: Devhost) -> None:
    # Only the head is sent: an answer proves devhost did not wait for the 10 MB it was promised.
    answer = _raw(
        limited,
        b"PUT /api/echo/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer


def test_a_chunked_body_is_cut_off_at_the_limit(limited: Devhost) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b"y" * 100

    response = httpx.put(limited.url("/api/echo/7"), content=chunks(), timeout=10)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
