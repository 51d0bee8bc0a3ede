"""The app run with known secret values: none of them shows in a log line, a stored document or an
answer, and a sensitive agent's texts are not stored in plain text.

The host logs at DEBUG; every path that handles a secret or a user's text is exercised: a batch
run of a sensitive and a plain agent, a conversation, failing items (tool errors, content
filter), refused requests with the secrets in their bodies and headers.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import httpx
import pytest

from devhost.testing import start_devhost
from tests.e2e.conftest import OPERATOR, PROJECT_ROOT, app_env, principal_headers, wait_run

pytestmark = pytest.mark.slow

SENSITIVE_QUERY = "Ticket from Zebediah Quux-Marlowe: my card 4111 1111 1111 1111 was charged twice"


def _secrets() -> dict[str, str]:
    data_key = os.urandom(32)
    cache_key = os.urandom(32)
    return {
        "MODEL_API_KEY": "sk-hygiene-" + base64.urlsafe_b64encode(os.urandom(24)).decode(),
        "CACHE_ENCRYPTION_KEY": base64.b64encode(cache_key).decode(),
        "DATA_ENCRYPTION_KEYS": json.dumps(
            {"active": "k1", "keys": {"k1": base64.b64encode(data_key).decode()}}
        ),
    }


def _needles(secrets: dict[str, str]) -> dict[str, bytes]:
    """Each secret, and the raw key bytes inside the JSON key ring, in the forms a leak takes."""
    needles = {name: value.encode() for name, value in secrets.items()}
    ring = json.loads(secrets["DATA_ENCRYPTION_KEYS"])
    needles["data key"] = ring["keys"]["k1"].encode()
    needles["data key (hex)"] = base64.b64decode(ring["keys"]["k1"]).hex().encode()
    needles["cache key (hex)"] = base64.b64decode(secrets["CACHE_ENCRYPTION_KEY"]).hex().encode()
    return needles


def _scan(where: str, blob: bytes, needles: dict[str, bytes]) -> list[str]:
    return [f"{name} in {where}" for name, needle in needles.items() if needle in blob]


def test_no_secret_reaches_a_log_a_store_or_an_answer(tmp_path: Path) -> None:
    secrets = _secrets()
    env = app_env(tmp_path, **secrets, DEVHOST_LOG_LEVEL="DEBUG")
    data_dir = tmp_path / "durable"
    answers: list[bytes] = []
    with (
        start_devhost(
            PROJECT_ROOT,
            env=env,
            simulator=True,
            simulator_setting="MODEL_ENDPOINT",
            data_dir=data_dir,
        ) as host,
        httpx.Client(
            base_url=host.base_url, headers={**host.function_headers, **OPERATOR}, timeout=30
        ) as api,
    ):
        secrets |= {
            "master key": host.master_key,
            "function key": host.function_key,
            "durable key": host.durable_key,
        }
        user = principal_headers("contoso", "user-1", "runs.write")
        sensitive = api.post(
            "/api/agents/triage/runs",
            json={"queries": [SENSITIVE_QUERY, "the app crashes on start"]},
            headers=user,
        )
        assert sensitive.status_code == 202, sensitive.text
        plain = api.post(
            "/api/agents/calculator/runs",
            json={"queries": ["add 2 and 3", "divide 1 by 0", "x [simulate-content-filter]"]},
        )
        assert plain.status_code == 202, plain.text
        for started, headers in ((sensitive, user), (plain, OPERATOR)):
            view = wait_run(api, started.json()["runId"], headers=headers)
            assert view["status"] == "completed", view
            page = api.get(f"/api/runs/{started.json()['runId']}", headers=headers)
            answers.append(page.content)
        read_back = json.loads(answers[0])["items"]
        assert {item["status"] for item in read_back} == {"completed"}
        asked = api.post("/api/agents/triage/run", json={"query": SENSITIVE_QUERY}, headers=user)
        assert asked.status_code == 200, asked.text
        answers.append(asked.content)
        # Secrets where they do not belong: in bodies, in a forged principal, as a key.
        for name, value in secrets.items():
            refused = [
                api.post("/api/agents/triage/runs", json={"queries": [value], "colour": value}),
                api.get(f"/api/runs/{value[:60]}"),
                api.get(f"/api/runs/{value}/no/such/route"),
                httpx.get(host.url("/api/agents"), headers={"x-functions-key": value + "x"}),
                api.get("/api/agents", headers={"x-ms-client-principal": value}),
            ]
            for response in refused:
                assert response.status_code in {400, 401, 404}, (name, response.text)
                answers.append(response.content)
        log = host.output.encode()

    needles = _needles(secrets)
    leaks = _scan("the host log", log, needles)
    for path in [*tmp_path.rglob("*.db*"), *data_dir.rglob("*")]:
        if path.is_file() and path.name != "keys.json":  # where devhost keeps its keys
            leaks += _scan(str(path.name), path.read_bytes(), needles)
    # Answers may carry the durable key to an operator (management URLs), nothing else.
    answer_needles = {k: v for k, v in needles.items() if k != "durable key"}
    for n, body in enumerate(answers):
        leaks += _scan(f"answer {n}", body, answer_needles)
    assert not leaks, leaks

    # The sensitive texts are encrypted at rest; the log keeps no user text either.
    store = b"".join(p.read_bytes() for p in tmp_path.glob("agentops.db*"))
    assert b"Zebediah" not in store and b"4111 1111" not in store
    assert b"Zebediah" not in log and b"4111 1111" not in log
    assert b"DEBUG" in log or b"debug" in log  # the scan ran over a verbose log
