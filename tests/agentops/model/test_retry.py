from datetime import timedelta

import pytest

from agentops.model.retry import RetryPolicy
from agentops.model.types import CircuitOpenError, PermanentModelError, TransientModelError


def test_backoff_is_deterministic_per_item_and_attempt():
    policy = RetryPolicy(base_s=2.0, max_s=120.0)
    first = policy.backoff_delay(3, "run-1/7", seed="run-1")
    assert policy.backoff_delay(3, "run-1/7", seed="run-1") == first
    assert RetryPolicy(base_s=2.0, max_s=120.0).backoff_delay(3, "run-1/7", "run-1") == first
    others = {policy.backoff_delay(3, f"run-1/{i}", "run-1") for i in range(50)}
    assert len(others) > 40  # jitter spreads items that failed together


def test_backoff_grows_and_stays_bounded():
    policy = RetryPolicy(base_s=1.0, max_s=30.0)
    for item in ("a", "b", "c", "d"):
        delays = [policy.backoff_delay(n, item).total_seconds() for n in range(1, 6)]
        assert delays == sorted(delays)
        for n, delay in enumerate(delays, start=1):
            step = min(30.0, 2.0 ** (n - 1))
            assert step / 2 <= delay <= step
        for n in range(6, 80):
            assert 15.0 <= policy.backoff_delay(n, item).total_seconds() <= 30.0


def test_backoff_rejects_attempt_zero():
    with pytest.raises(ValueError, match="attempt"):
        RetryPolicy().backoff_delay(0, "x")


def test_permanent_errors_are_never_retried():
    policy = RetryPolicy()
    error = PermanentModelError("content filter", status=400)
    assert not policy.retryable(error, 1)
    assert policy.inline_wait(error, 1, 0) is None


def test_short_waits_retry_inline_once_long_waits_go_back():
    policy = RetryPolicy(max_attempts=4, inline_max_wait_s=2.0, inline_retries=1)
    short = TransientModelError("429", status=429, retry_after_s=0.5)
    long = TransientModelError("429", status=429, retry_after_s=10.0)
    assert policy.inline_wait(short, 1, 0) == 0.5
    assert policy.inline_wait(short, 2, 1) is None  # the one inline retry is spent
    assert policy.inline_wait(long, 1, 0) is None
    assert policy.retryable(long, 1)
    assert policy.redispatch_delay(1, "k", retry_after_s=10.0) == timedelta(seconds=10.0)
    assert policy.inline_wait(short, 4, 0) is None  # item budget spent
    assert not policy.retryable(short, 4)


def test_without_retry_after_the_backoff_decides_inline():
    policy = RetryPolicy(base_s=1.0, inline_max_wait_s=2.0)
    error = TransientModelError("503", status=503)
    wait = policy.inline_wait(error, 1, 0, item_key="k")
    assert wait == policy.backoff_delay(1, "k").total_seconds()
    assert policy.inline_wait(error, 3, 0, item_key="k") is None  # 2..4 s: too long to hold


def test_circuit_open_is_retryable_later():
    policy = RetryPolicy()
    error = CircuitOpenError("open", retry_after_s=25.0)
    assert policy.retryable(error, 1)
    assert policy.inline_wait(error, 1, 0) is None
    assert policy.redispatch_delay(1, "k", retry_after_s=25.0) >= timedelta(seconds=25)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_s": 0}, {"base_s": 10, "max_s": 5}, {"inline_retries": -1}],
)
def test_bad_policy_is_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
