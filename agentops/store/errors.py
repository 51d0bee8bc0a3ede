"""Failures of the store that callers handle (bad arguments raise ValueError/TypeError/KeyError)."""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked."""


class ConcurrencyError(StoreError):
    """Optimistic concurrency lost: the document changed under us more times than we retry."""


class AuditConflictError(StoreError):
    """Another entry already holds this position in the tenant's audit chain."""

    def __init__(self, tenant_id: str, seq: int) -> None:
        super().__init__(f"audit position {seq} of tenant {tenant_id} is already taken")
        self.tenant_id = tenant_id
        self.seq = seq


class StoreUnavailableError(StoreError):
    """The backing service or file could not serve the call (throttled, down, locked): retryable."""
