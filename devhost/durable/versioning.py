"""Orchestration versioning as Durable Functions documents it (host.json `extensions.durableTask`).

`defaultVersion` is the version new orchestrations and sub-orchestrations get unless the starter
names one; `versionMatchStrategy` says which instances this host runs (None: all; Strict: only
its own version; CurrentOrOlder, the default: its own and older ones), and
`versionFailureStrategy` what happens to the others (Reject, the default: left as they are until
a host that accepts them runs; Fail: failed). Versions compare as Durable does: empty versions
are equal and older than any other, versions that parse as .NET's System.Version compare
numerically, anything else case-insensitively as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class VersionMatchStrategy(StrEnum):
    NONE = "None"
    STRICT = "Strict"
    CURRENT_OR_OLDER = "CurrentOrOlder"


class VersionFailureStrategy(StrEnum):
    REJECT = "Reject"
    FAIL = "Fail"


# System.Version: two to four non-negative integer components.
_SYSTEM_VERSION = re.compile(r"\d+(\.\d+){1,3}")


def _system_version(text: str) -> tuple[int, ...] | None:
    stripped = text.strip()
    if not _SYSTEM_VERSION.fullmatch(stripped):
        return None
    parts = [int(part) for part in stripped.split(".")]
    # An absent build or revision is -1 in System.Version, so "1.0" < "1.0.0".
    return tuple(parts + [-1] * (4 - len(parts)))


def compare_versions(left: str | None, right: str | None) -> int:
    """Negative, zero or positive as `left` is older than, equal to or newer than `right`."""
    if not left and not right:
        return 0
    if not left:
        return -1
    if not right:
        return 1
    left_parsed, right_parsed = _system_version(left), _system_version(right)
    if left_parsed is not None and right_parsed is not None:
        return (left_parsed > right_parsed) - (left_parsed < right_parsed)
    a, b = left.casefold(), right.casefold()
    return (a > b) - (a < b)


@dataclass(frozen=True, slots=True)
class VersioningPolicy:
    """What host.json says about orchestration versions; the defaults are Azure's."""

    default_version: str | None = None
    match: VersionMatchStrategy = VersionMatchStrategy.CURRENT_OR_OLDER
    failure: VersionFailureStrategy = VersionFailureStrategy.REJECT

    def version_for_new(self, requested: str | None) -> str | None:
        """The version a new (sub-)orchestration gets: the one asked for, else the default."""
        return requested if requested is not None else self.default_version

    def mismatch(self, version: str | None) -> str | None:
        """Why this host must not run an instance of `version`, or None when it may."""
        if self.match is VersionMatchStrategy.NONE:
            return None
        comparison = compare_versions(version, self.default_version)
        if self.match is VersionMatchStrategy.STRICT and comparison != 0:
            return (
                f"The orchestration version '{version or ''}' does not match the worker "
                f"version '{self.default_version or ''}'."
            )
        if self.match is VersionMatchStrategy.CURRENT_OR_OLDER and comparison > 0:
            return (
                f"The orchestration version '{version or ''}' is greater than the worker "
                f"version '{self.default_version or ''}'."
            )
        return None


def _choice[E: StrEnum](section: Mapping[str, Any], key: str, kind: type[E], default: E) -> E:
    value = section.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        # The host binds host.json to .NET enums, which ignores case.
        for member in kind:
            if member.value.lower() == value.strip().lower():
                return member
    allowed = ", ".join(member.value for member in kind)
    raise ValueError(f"extensions.durableTask.{key} must be one of {allowed}, got {value!r}")


def versioning_from_host_json(durable: Mapping[str, Any]) -> VersioningPolicy:
    """The policy from the `extensions.durableTask` section; ValueError names a bad key."""
    default = durable.get("defaultVersion")
    if default is not None and not isinstance(default, str):
        raise ValueError(f"extensions.durableTask.defaultVersion must be a string, got {default!r}")
    return VersioningPolicy(
        default_version=default or None,
        match=_choice(
            durable,
            "versionMatchStrategy",
            VersionMatchStrategy,
            VersionMatchStrategy.CURRENT_OR_OLDER,
        ),
        failure=_choice(
            durable,
            "versionFailureStrategy",
            VersionFailureStrategy,
            VersionFailureStrategy.REJECT,
        ),
    )
