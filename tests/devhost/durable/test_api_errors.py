"""Bad input to the Durable HTTP API: clear 4xx answers that change nothing."""

from __future__ import annotations

import httpx
import pytest

from devhost.durable.binding import DurableUrls, rpc_base_url

from .conftest import wait_for_status

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def served(serve_engine):
    return await serve_engine("durable_patterns")


@pytest.fixture
async def http(served):
    async with httpx.AsyncClient(base_url=served.base_url, timeout=10) as client:
        yield client


async def test_unknown_instance_is_404_everywhere(served, http):
    for method, path in [
        ("GET", "/durabletask/instances/missing"),
        ("POST", "/durabletask/instances/missing/raiseEvent/Go"),
        ("POST", "/durabletask/instances/missing/terminate?reason=x"),
        ("DELETE", "/durabletask/instances/missing"),
        ("GET", "/runtime/webhooks/durabletask/instances/missing"),
    ]:
        response = await http.request(method, path)
        assert response.status_code == 404, (method, path)
        assert "missing" in response.json()["Message"]
    status = await served.client.get_status("missing")
    assert not status  # the SDK's "not found" status


async def test_malformed_requests_are_400_with_a_message(served, http):
    bad_body = await http.post("/durabletask/orchestrators/chaining", content=b"{not json")
    assert bad_body.status_code == 400
    assert "not valid JSON" in bad_body.json()["Message"]
    bad_flag = await http.get("/durabletask/instances/?showInput=maybe")
    assert bad_flag.status_code == 400
    bad_time = await http.get("/durabletask/instances/?createdTimeFrom=yesterday")
    assert bad_time.status_code == 400
    bad_status = await http.get("/durabletask/instances/?runtimeStatus=Sleeping")
    assert bad_status.status_code == 400
    other_hub = await http.get("/durabletask/instances/?taskHub=OtherHub")
    assert other_hub.status_code == 400
    instance_id = await served.client.start_new("approval")
    bad_event = await http.post(
        f"/durabletask/instances/{instance_id}/raiseEvent/Approval", content=b"[1,"
    )
    assert bad_event.status_code == 400
    listed = (await http.get("/durabletask/instances/")).json()
    assert [item["instanceId"] for item in listed] == [instance_id]  # nothing else was created


async def test_unknown_orchestrator_is_400_in_the_sdk_shape(http):
    response = await http.post("/durabletask/orchestrators/nope", json='{"a": 1}')
    assert response.status_code == 400
    assert "'nope' doesn't exist" in response.json()["ExceptionMessage"]


async def test_start_answers_202_with_management_urls(served, http):
    response = await http.post("/durabletask/orchestrators/chaining/my-id", json="null")
    assert response.status_code == 202
    body = response.json()
    assert body["id"] == "my-id"
    assert body["statusQueryGetUri"] == response.headers["location"]
    assert (
        "/runtime/webhooks/durabletask/instances/my-id?taskHub=TestHub" in body["statusQueryGetUri"]
    )
    assert "code=test-system-key" in body["statusQueryGetUri"]


async def test_list_pages_with_continuation_token(served, http):
    ids = [await served.client.start_new("approval") for _ in range(3)]
    first = await http.get("/durabletask/instances/?top=2")
    token = first.headers["x-ms-continuation-token"]
    second = await http.get(
        "/durabletask/instances/?top=2", headers={"x-ms-continuation-token": token}
    )
    assert "x-ms-continuation-token" not in second.headers
    seen = [item["instanceId"] for item in first.json() + second.json()]
    assert sorted(seen) == sorted(ids)


def test_client_binding_has_the_urls_the_sdk_reads():
    urls = DurableUrls(
        public_base_url="http://127.0.0.1:7071",
        system_key="k3y",
        rpc_base_url="http://127.0.0.1:40000/durabletask/t0ken/",
    )
    binding = urls.client_binding("TestHub")
    assert binding["taskHubName"] == "TestHub"
    assert binding["rpcBaseUrl"] == "http://127.0.0.1:40000/durabletask/t0ken/"
    assert binding["baseUrl"] == "http://127.0.0.1:7071/runtime/webhooks/durabletask"
    assert binding["requiredQueryStringParameters"] == "code=k3y"
    management = binding["managementUrls"]
    assert management["id"] == "INSTANCEID"
    assert management["sendEventPostUri"] == (
        "http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/INSTANCEID/raiseEvent/"
        "{eventName}?taskHub=TestHub&connection=Storage&code=k3y"
    )


def test_rpc_base_carries_the_token_in_its_path():
    assert rpc_base_url("http://127.0.0.1:40000", "t0ken") == (
        "http://127.0.0.1:40000/durabletask/t0ken/"
    )


async def test_management_urls_ignore_the_host_header(served, http):
    response = await http.post(
        "/runtime/webhooks/durabletask/orchestrators/chaining/forged",
        json="null",
        headers={"Host": "attacker.example:80"},
    )
    assert response.status_code == 202
    for name, url in response.json().items():
        if name != "id":
            assert url.startswith(f"{served.base_url}/runtime/webhooks/"), (name, url)
    assert response.headers["location"].startswith(served.base_url)


async def test_rewind_is_refused_with_what_to_do_instead(served, http):
    instance_id = await served.client.start_new(
        "with_retry", client_input={"key": "rw", "failures": 9}
    )
    status = await wait_for_status(served.client, instance_id)
    assert status.runtime_status.value == "Failed"
    # The SDK's client raises the host's message as it is.
    with pytest.raises(Exception, match="rewind is not supported by devhost's durable engine"):
        await served.client.rewind(instance_id, "try again")
    for base in ("/durabletask", "/runtime/webhooks/durabletask"):
        response = await http.post(f"{base}/instances/{instance_id}/rewind?reason=x")
        assert response.status_code == 501
        assert "Restart it instead" in response.json()
        missing = await http.post(f"{base}/instances/missing/rewind?reason=x")
        assert missing.status_code == 404
    # Nothing changed: the instance is still the failed one.
    assert (await served.client.get_status(instance_id)).runtime_status.value == "Failed"
