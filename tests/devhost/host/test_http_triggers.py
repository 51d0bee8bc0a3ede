"""HTTP triggers through real HTTP: routes, parameters, methods, bodies, responses, errors."""

from __future__ import annotations

import httpx

from devhost.testing import start_devhost

from .conftest import APPS

PROBLEM = "application/problem+json"


def test_route_params_query_headers_and_context(client: httpx.Client) -> None:
    response = client.get("/api/echo/42/tail-part?x=1&y=two", headers={"X-Trace": "abc"})
    assert response.status_code == 200
    body = response.json()
    assert body["method"] == "GET"
    assert body["route_params"] == {"id": "42", "tail": "tail-part"}
    assert body["params"] == {"x": "1", "y": "two"}
    assert body["headers"]["x-trace"] == "abc"
    assert body["url"].endswith("/api/echo/42/tail-part?x=1&y=two")
    assert body["function_name"] == "echo"
    assert len(body["invocation_id"]) == 36


def test_the_invocation_joins_the_callers_trace_or_starts_one(client: httpx.Client) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    joined = client.get("/api/echo/1", headers={"traceparent": parent, "tracestate": "k=v"}).json()
    assert (joined["trace_parent"], joined["trace_state"]) == (parent, "k=v")
    # Without a (valid) header, a trace of its own: its id is the invocation id.
    alone = client.get("/api/echo/1", headers={"traceparent": "00-garbage"}).json()
    assert alone["trace_parent"].split("-")[1] == alone["invocation_id"].replace("-", "")


def test_optional_parameter_may_be_absent_and_body_arrives(client: httpx.Client) -> None:
    response = client.put("/api/echo/7", content=b"payload \xe2\x9c\x93")
    assert response.status_code == 200
    body = response.json()
    assert body["method"] == "PUT"
    assert body["route_params"] == {"id": "7"}
    assert body["body"] == "payload \u2713"


def test_constraint_mismatch_is_404_problem(client: httpx.Client) -> None:
    response = client.get("/api/echo/not-a-number")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404


def test_unknown_route_is_404_problem(client: httpx.Client) -> None:
    response = client.get("/api/nothing/here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "/api/nothing/here" not in response.text  # a path is not echoed back


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.delete("/api/echo/1")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["allow"] == "GET, POST, PUT"


def test_literal_route_wins_over_parameter(client: httpx.Client) -> None:
    assert client.get("/api/items/special").text == "special"
    assert client.get("/api/items/other").text == "item other"


def test_route_defaults_to_function_name(client: httpx.Client) -> None:
    response = client.get("/api/DefaultRoute")
    assert response.status_code == 200
    assert response.content == b"\x00\x01binary"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-custom"] == "yes"


def test_status_and_headers_are_returned(client: httpx.Client) -> None:
    response = client.post("/api/created")
    assert response.status_code == 201
    assert response.headers["location"] == "/api/created/1"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "made"


def test_sync_functions_run_in_the_pool_and_async_ones_on_the_loop(client: httpx.Client) -> None:
    sync_thread = client.get("/api/echo/1").json()["thread"]
    async_response = client.get("/api/async-hello", params={"name": "devhost"})
    assert async_response.json()["hello"] == "devhost"
    assert sync_thread.startswith("function")
    assert async_response.json()["thread"] == "MainThread"


def test_unhandled_exception_is_500_problem_without_details(client: httpx.Client) -> None:
    response = client.get("/api/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "secret detail" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["invocationId"]


def test_failure_is_logged_by_the_host(client: httpx.Client, devhost) -> None:
    invocation = client.get("/api/boom").json()["invocationId"]
    devhost.wait_for_output(f"Executed 'boom' (Failed, id={invocation})")
    devhost.wait_for_output("secret detail that must not reach the caller")


def test_root_says_running(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "devhost is running" in response.text


def test_host_status_lists_functions(client: httpx.Client, devhost) -> None:
    response = client.get("/admin/host/status", headers=devhost.master_headers)
    assert response.status_code == 200
    status = response.json()
    assert status["state"] == "Running"
    functions = {f["name"]: f for f in status["functions"]}
    assert functions["echo"]["methods"] == ["GET", "POST", "PUT"]
    assert functions["every_second"]["schedule"] == "* * * * * *"
    assert functions["keyed"]["authLevel"] == "function"


def test_route_values_are_decoded_once(client: httpx.Client) -> None:
    assert client.get("/api/items/a%20b").text == "item a b"
    assert client.get("/api/items/50%2525").text == "item 50%25"
    assert client.get("/api/items/a%2Fb").text == "item a/b"


def test_functions_devhost_cannot_serve_are_listed_not_served(
    client: httpx.Client, devhost
) -> None:
    # Its route answers with what is missing rather than a bare 404.
    response = client.get("/api/with-blob")
    assert response.status_code == 501
    assert response.json()["detail"] == (
        "function 'with_blob' is not served: devhost does not supply its blob input binding "
        "'blob' (path 'container/item.txt'); it supplies triggers, context and, to HTTP and "
        "timer functions, durableClient (call the service from the function's code to run it "
        "locally)"
    )
    assert (
        "with_blob: httpTrigger (not served: devhost does not supply its blob input binding "
        "'blob' (path 'container/item.txt')"
    ) in devhost.output
    assert "/api/with-blob" not in devhost.output  # not listed among the served routes
    assert "from_queue: queueTrigger (not served" in devhost.output


def test_asgi_function_app_is_served() -> None:
    with start_devhost(APPS / "http_asgi") as asgi:
        response = httpx.post(asgi.url("/api/things/7?a=1"), content=b"hi")
    assert response.status_code == 201
    assert response.json() == {"path": "/api/things/7", "n": "7", "query": {"a": "1"}, "body": "hi"}


def test_website_hostname_is_the_listening_address(client: httpx.Client, devhost) -> None:
    # Set before the app is imported, as Core Tools does, so the app can build its own URLs.
    value = client.get("/api/settings/WEBSITE_HOSTNAME").json()["value"]
    assert f"http://{value}" == devhost.base_url


def test_request_url_is_the_listening_address_whatever_the_host_header(
    client: httpx.Client, devhost
) -> None:
    response = client.get("/api/echo/42/a%20b?x=1", headers={"Host": "attacker.example:8443"})
    assert response.json()["url"] == f"{devhost.base_url}/api/echo/42/a%20b?x=1"


def test_a_path_no_route_pattern_takes_is_a_404_problem(client: httpx.Client) -> None:
    # A decoded newline is outside Starlette's path patterns: it must still be the host's shape.
    response = client.get("/api/items/a%0Ab")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_unknown_method_is_405_with_the_functions_allow_list(client: httpx.Client) -> None:
    response = client.request("TRACE", "/api/echo/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, PUT"
    assert response.headers["content-type"].startswith("application/problem+json")
