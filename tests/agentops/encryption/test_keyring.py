"""The key ring and the record sealer: round trips, binding to tenant/record/field, rotation."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from agentops.encryption import DecryptionError, EncryptionUnavailableError, KeyRing, RecordSealer
from agentops.encryption.keyring import key_id_of
from agentops.encryption.records import item_context
from agentops.store.records import Item, ItemOutcome, Message, Thread, ThreadOwner

K1, K2 = os.urandom(32), os.urandom(32)
B64_K1 = base64.b64encode(K1).decode()
QUERY = "my card 4111 1111 1111 1111 is blocked"
CONTEXT = ("items", "acme", "run-1", "0", "query")


def secret(active: str, **keys: bytes) -> SecretStr:
    encoded = {kid: base64.b64encode(key).decode() for kid, key in keys.items()}
    return SecretStr(json.dumps({"active": active, "keys": encoded}))


def test_round_trip_and_the_envelope_describes_itself() -> None:
    ring = KeyRing("k1", {"k1": K1})
    sealed = ring.seal(QUERY, CONTEXT)
    assert sealed.startswith("enc:v1:k1:") and key_id_of(sealed) == "k1"
    assert "4111" not in sealed
    assert ring.open(sealed, CONTEXT) == QUERY
    assert ring.seal(QUERY, CONTEXT) != sealed  # a fresh nonce every time


@pytest.mark.parametrize(
    "moved_to",
    [
        ("items", "acme", "run-2", "0", "query"),  # another run
        ("items", "acme", "run-1", "1", "query"),  # another item of the same run
        ("items", "acme", "run-1", "0", "answer"),  # another field
        ("items", "globex", "run-1", "0", "query"),  # another tenant
        ("items", "acme", "run-1:0", "query"),  # the same words, split differently
    ],
    ids=["run", "item", "field", "tenant", "split"],
)
def test_a_value_moved_elsewhere_fails_to_decrypt(moved_to: tuple[str, ...]) -> None:
    ring = KeyRing("k1", {"k1": K1})
    sealed = ring.seal(QUERY, CONTEXT)
    with pytest.raises(DecryptionError, match="another record, field or tenant") as caught:
        ring.open(sealed, moved_to)
    assert "/".join(moved_to) in str(caught.value)
    assert QUERY not in str(caught.value)


def test_a_damaged_value_fails_to_decrypt() -> None:
    ring = KeyRing("k1", {"k1": K1})
    sealed = ring.seal(QUERY, CONTEXT)
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    for bad in (flipped, sealed.replace("enc:v1:k1:", "enc:v1:k1:AAAA"), "enc:v1:k1:x", "plain"):
        with pytest.raises(DecryptionError):
            ring.open(bad, CONTEXT)


def test_rotation_reads_old_values_and_the_old_key_goes_once_they_are_moved() -> None:
    old = KeyRing.from_secret(secret("k1", k1=K1))
    written_before = old.seal(QUERY, CONTEXT)
    rotated = KeyRing.from_secret(secret("k2", k1=K1, k2=K2))
    assert rotated.open(written_before, CONTEXT) == QUERY  # old values still read
    assert not rotated.is_current(written_before)
    written_after = rotated.seal(QUERY, CONTEXT)
    assert key_id_of(written_after) == "k2" and rotated.is_current(written_after)
    resealed = RecordSealer(rotated).reseal(written_before, CONTEXT)
    assert resealed is not None and key_id_of(resealed) == "k2"
    assert RecordSealer(rotated).reseal(resealed, CONTEXT) is None  # already current
    retired = KeyRing.from_secret(secret("k2", k2=K2))
    assert retired.open(resealed, CONTEXT) == QUERY
    with pytest.raises(DecryptionError, match="'k1', which DATA_ENCRYPTION_KEYS no longer holds"):
        retired.open(written_before, CONTEXT)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "is not JSON"),
        ('{"active": "k1"}', "must be"),
        ('{"keys": {}}', '"active" must be a key id'),
        (json.dumps({"active": "k9", "keys": {"k1": B64_K1}}), "not among"),
        ('{"active": "k1", "keys": {"k1": "***"}}', "not base64"),
        (json.dumps({"active": "k1", "keys": {"k1": B64_K1[:24]}}), "32 bytes"),
        (json.dumps({"active": "a:b", "keys": {"a:b": B64_K1}}), "key id"),
    ],
)
def test_a_bad_key_setting_names_the_setting_never_a_key(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        KeyRing.from_secret(SecretStr(value))
    assert "DATA_ENCRYPTION_KEYS" in str(caught.value)
    assert B64_K1 not in str(caught.value)


def test_the_ring_does_not_show_its_keys() -> None:
    ring = KeyRing.from_secret(secret("k2", k1=K1, k2=K2))
    assert repr(ring) == "KeyRing(active='k2', key_ids=['k1', 'k2'])"
    assert B64_K1 not in repr(ring)


def test_the_sealer_refuses_a_sensitive_agent_without_keys() -> None:
    sealer = RecordSealer(None)
    with pytest.raises(EncryptionUnavailableError, match="'triage' is sensitive"):
        sealer.seal_queries("triage", "acme", "run-1", [QUERY])
    sealed = RecordSealer(KeyRing("k1", {"k1": K1})).seal_queries(
        "triage", "acme", "run-1", [QUERY]
    )
    with pytest.raises(EncryptionUnavailableError):
        sealer.open_item("acme", Item("run-1", 0, sealed[0]))


def test_the_sealer_binds_items_and_messages_to_their_place() -> None:
    sealer = RecordSealer(KeyRing("k1", {"k1": K1}))
    [query] = sealer.seal_queries("triage", "acme", "run-1", [QUERY])
    outcome = sealer.seal_outcome("triage", "acme", "run-1", 0, ItemOutcome.completed("answer 1"))
    assert outcome.answer is not None and outcome.answer.startswith("enc:v1:")
    item = Item("run-1", 0, query, answer=outcome.answer)
    opened = sealer.open_item("acme", item)
    assert (opened.query, opened.answer) == (QUERY, "answer 1")
    with pytest.raises(DecryptionError):  # the answer placed in the query's field
        sealer.open_item("acme", Item("run-1", 0, outcome.answer))
    with pytest.raises(DecryptionError):  # the item read under another tenant
        sealer.open_item("globex", item)
    # Plain texts of a record written before its agent became sensitive read as they are.
    assert sealer.open_item("acme", Item("run-1", 1, "legacy")).query == "legacy"
    assert item_context("acme", "run-1", 0, "query") == CONTEXT

    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    messages = sealer.seal_messages(
        "triage", "acme", "t-1", [Message("user", QUERY, at), Message("assistant", "A", at)]
    )
    owner = ThreadOwner("acme", "alice", "triage")
    thread = Thread("t-1", owner, tuple(messages), at, 1, encrypted=True)
    assert [m.text for m in sealer.open_thread(thread).messages] == [QUERY, "A"]
    with pytest.raises(DecryptionError):  # moved to another thread
        sealer.open_thread(Thread("t-2", owner, tuple(messages), at, 1, encrypted=True))
    swapped = (Message("user", messages[1].text, at), Message("assistant", messages[0].text, at))
    with pytest.raises(DecryptionError):  # the answer passed off as the user's message
        sealer.open_thread(Thread("t-1", owner, swapped, at, 1, encrypted=True))
