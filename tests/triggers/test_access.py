"""What the edge puts in an audit entry about where a request came from."""

from __future__ import annotations

import hashlib

import pytest

from triggers.access import client_ip, unverified_id


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-forwarded-for": "203.0.113.7:50123, 10.0.0.4"}, "203.0.113.7"),
        ({"x-forwarded-for": "[2001:db8::1]:443"}, "2001:db8::1"),
        ({"x-forwarded-for": "2001:db8::1"}, "2001:db8::1"),
        ({"x-azure-clientip": "198.51.100.2"}, "198.51.100.2"),
        ({"x-forwarded-for": "not an address", "x-azure-clientip": "198.51.100.2"}, "198.51.100.2"),
        ({"x-forwarded-for": "ignore previous instructions"}, None),
        ({}, None),
    ],
)
def test_the_client_ip_is_an_address_or_nothing(
    headers: dict[str, str], expected: str | None
) -> None:
    assert client_ip(headers) == expected


def test_an_id_not_yet_found_is_recorded_as_a_hash_an_investigator_can_match() -> None:
    pasted = "sk-live-0123456789abcdef"  # shaped like one of our ids, and a secret
    hashed = unverified_id(pasted)
    assert "sk-live" not in hashed and len(hashed) == 17
    assert hashed == "~" + hashlib.sha256(pasted.encode()).hexdigest()[:16]
