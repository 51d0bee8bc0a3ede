"""Classification of OpenAI SDK and Agent Framework exceptions into the domain's two kinds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import openai
import pytest
from agent_framework import MiddlewareFailure
from agent_framework._tools import _UnknownFunctionCallError
from agent_framework.exceptions import ChatClientException
from agent_framework_openai import OpenAIContentFilterException

from agentops.model.classify import classify_model_error, retry_after_seconds
from agentops.model.types import PermanentModelError, TransientModelError

URL = "http://127.0.0.1:9/v1/chat/completions"


def _request() -> httpx2.Request:
    return httpx2.Request("POST", URL)


def _status_error(
    status: int, *, headers: dict[str, str] | None = None, code: str | None = None
) -> openai.APIStatusError:
    """Build the error the SDK itself raises for ``status``, through its own factory."""
    body = {"error": {"message": f"simulated {status}", "type": "test_error", "code": code}}
    response = httpx2.Response(status, headers=headers or {}, json=body, request=_request())
    client = openai.AsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0)
    return client._make_status_error(f"Error code: {status}", body=body, response=response)


def _wrapped(inner: BaseException) -> ChatClientException:
    """Agent Framework raises ``ChatClientException(...) from ex`` around every SDK error."""
    try:
        try:
            raise inner
        except Exception as ex:
            raise ChatClientException("service failed to complete the prompt", ex) from ex
    except ChatClientException as outer:
        return outer


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_permanent_and_keep_the_reason(status: int) -> None:
    error = classify_model_error(_wrapped(_status_error(status)))
    assert isinstance(error, PermanentModelError)
    assert not isinstance(error, TransientModelError)
    assert error.status == status
    assert f"simulated {status}" in error.reason
    assert str(status) in error.reason


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409])
def test_server_errors_are_transient(status: int) -> None:
    error = classify_model_error(_wrapped(_status_error(status)))
    assert isinstance(error, TransientModelError)
    assert error.status == status
    assert error.retry_after_s is None


def test_429_prefers_retry_after_ms_over_retry_after() -> None:
    exc = _status_error(429, headers={"retry-after-ms": "1500", "retry-after": "9"})
    error = classify_model_error(_wrapped(exc))
    assert isinstance(error, TransientModelError)
    assert error.status == 429
    assert error.retry_after_s == pytest.approx(1.5)


def test_429_falls_back_to_retry_after_seconds() -> None:
    error = classify_model_error(_status_error(429, headers={"Retry-After": "7"}))
    assert isinstance(error, TransientModelError)
    assert error.retry_after_s == pytest.approx(7.0)


def test_503_carries_retry_after_too() -> None:
    error = classify_model_error(_status_error(503, headers={"retry-after": "2"}))
    assert isinstance(error, TransientModelError)
    assert error.retry_after_s == pytest.approx(2.0)


def test_retry_after_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds({"retry-after": later}, now=now) == pytest.approx(30.0)
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds({"retry-after": earlier}, now=now) == 0.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after-ms": "abc", "retry-after": "3"}, 3.0),
        ({"retry-after-ms": "-5"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "not a date"}, None),
        ({"Retry-After-Ms": "250"}, 0.25),
    ],
)
def test_retry_after_ignores_bad_values(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


def test_x_should_retry_overrides_the_status_rule() -> None:
    assert isinstance(
        classify_model_error(_status_error(500, headers={"x-should-retry": "false"})),
        PermanentModelError,
    )
    assert isinstance(
        classify_model_error(_status_error(400, headers={"x-should-retry": "true"})),
        TransientModelError,
    )


def test_content_filter_400_is_permanent_with_its_message() -> None:
    inner = _status_error(400, code="content_filter")
    # The chat completion client converts this 400 into its own content-filter exception.
    try:
        try:
            raise inner
        except openai.BadRequestError as ex:
            raise OpenAIContentFilterException("content error", inner_exception=ex) from ex
    except OpenAIContentFilterException as outer:
        error = classify_model_error(outer)
    assert isinstance(error, PermanentModelError)
    assert error.reason.startswith("content filter:")
    assert "simulated 400" in error.reason
    assert error.status == 400


def test_content_filter_on_the_raw_sdk_error() -> None:
    error = classify_model_error(_status_error(400, code="content_filter"))
    assert isinstance(error, PermanentModelError)
    assert error.reason.startswith("content filter:")


def test_timeout_is_transient() -> None:
    error = classify_model_error(_wrapped(openai.APITimeoutError(_request())))
    assert isinstance(error, TransientModelError)
    assert error.reason.startswith("timeout")
    assert error.status is None


def test_dropped_connection_is_transient_and_names_the_transport_error() -> None:
    try:
        try:
            raise httpx2.RemoteProtocolError("Server disconnected without sending a response.")
        except httpx2.RemoteProtocolError as transport:
            raise openai.APIConnectionError(request=_request()) from transport
    except openai.APIConnectionError as sdk_error:
        error = classify_model_error(_wrapped(sdk_error))
    assert isinstance(error, TransientModelError)
    assert "RemoteProtocolError" in error.reason


def test_plain_timeout_and_connection_errors_are_transient() -> None:
    assert isinstance(classify_model_error(TimeoutError()), TransientModelError)
    assert isinstance(classify_model_error(ConnectionResetError()), TransientModelError)


def test_unknown_tool_call_is_permanent() -> None:
    exc = _UnknownFunctionCallError('Error: Requested function "foo" not found.')
    error = classify_model_error(exc)
    assert isinstance(error, PermanentModelError)
    assert error.reason.startswith("invalid tool call")
    assert '"foo"' in error.reason


def test_tool_failure_from_middleware_is_permanent_with_its_reason() -> None:
    error = classify_model_error(MiddlewareFailure("invalid tool call: divide: division by zero"))
    assert isinstance(error, PermanentModelError)
    assert error.reason == "invalid tool call: divide: division by zero"


def test_invalid_response_schema_is_permanent() -> None:
    response = httpx2.Response(200, json={"nonsense": True}, request=_request())
    error = classify_model_error(openai.APIResponseValidationError(response, body={}))
    assert isinstance(error, PermanentModelError)


def test_domain_errors_pass_through_unchanged() -> None:
    original = TransientModelError("x", status=429, retry_after_s=1.0)
    assert classify_model_error(original) is original


def test_a_bug_is_not_a_model_error() -> None:
    assert classify_model_error(KeyError("oops")) is None
    assert classify_model_error(_wrapped(ZeroDivisionError())) is None


def test_long_reasons_are_trimmed() -> None:
    body = {"message": "x" * 5000}
    response = httpx2.Response(400, json={"error": body}, request=_request())
    error = classify_model_error(openai.BadRequestError("400", response=response, body=body))
    assert error is not None
    assert len(error.reason) <= 500


def _error_with_body(status: int, body: object) -> openai.APIStatusError:
    response = httpx2.Response(status, json={"error": body}, request=_request())
    client = openai.AsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0)
    return client._make_status_error(f"Error code: {status}", body=body, response=response)


def test_a_401_that_echoes_part_of_the_key_keeps_status_and_code_only() -> None:
    # OpenAI's own wording: it shows the key's first and last characters.
    body = {
        "message": "Incorrect API key provided: sk-proj-AbCd************************wXyZ. "
        "You can find your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
    error = classify_model_error(_wrapped(_error_with_body(401, body)))
    assert isinstance(error, PermanentModelError)
    assert error.status == 401
    assert error.reason.startswith("401 unauthorized: Incorrect API key provided: sk-[redacted]")
    assert "invalid_api_key" in error.reason
    assert "AbCd" not in error.reason and "wXyZ" not in error.reason


@pytest.mark.parametrize(
    "leak",
    [
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "api-key: 0123456789abcdef0123456789abcdef",
        "header 'api-key'='0123456789abcdef0123456789abcdef'",
        "url https://x.openai.azure.com/openai?sig=Zm9vYmFyYmF6cXV4&api-key=abc123secret",
        "key 0123456789abcdef0123456789abcdef was refused",
    ],
)
def test_keys_and_tokens_in_a_message_are_redacted(leak: str) -> None:
    error = classify_model_error(_error_with_body(400, {"message": f"bad request: {leak}"}))
    assert error is not None
    for secret in ("eyJ", "0123456789abcdef", "Zm9vYmFy", "abc123secret", "c2lnbmF0dXJl"):
        assert secret not in error.reason, error.reason
    assert "[redacted]" in error.reason


def test_a_400_that_echoes_the_instructions_is_withheld() -> None:
    instructions = (
        "You answer questions about numbers, units and dates.\n"
        "Never compute in your head: call a tool for every arithmetic step."
    )
    # Some OpenAI-compatible servers quote the offending request back, JSON and all.
    echoed = json.dumps({"messages": [{"role": "system", "content": instructions}]})
    body = {"message": f"Invalid request: {echoed[:150]}", "code": "invalid_request"}
    error = classify_model_error(_wrapped(_error_with_body(400, body)), private=(instructions,))
    assert isinstance(error, PermanentModelError)
    assert error.reason == ("400 bad request: the message quoted the request and is withheld")
    # Without the echo the message stays.
    plain = classify_model_error(_error_with_body(400, body), private=("something else " * 4,))
    assert plain is not None and "Invalid request" in plain.reason


def test_tracebacks_paths_and_control_characters_stay_out_of_reasons() -> None:
    body = {
        "message": "internal error\r\nTraceback (most recent call last):\n"
        '  File "/srv/app/handler.py", line 12, in handle\nKeyError: secret',
    }
    error = classify_model_error(_error_with_body(500, body))
    assert isinstance(error, TransientModelError)
    assert error.reason == "500 internal server error: internal error\\r\\n[traceback]"
    pathy = classify_model_error(
        _error_with_body(400, {"message": "cannot open /etc/agentops/keys.json for model x"})
    )
    assert pathy is not None
    assert pathy.reason == "400 bad request: cannot open [path] for model x"


def test_an_unknown_tool_name_with_line_breaks_is_escaped() -> None:
    exc = _UnknownFunctionCallError('Error: Requested function "x\nERROR forged" not found.')
    error = classify_model_error(exc)
    assert error is not None
    assert "\n" not in error.reason and "x\\nERROR forged" in error.reason
