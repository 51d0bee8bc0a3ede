"""Domain errors of runs and agents, mapped to HTTP statuses at the edge."""


class UnknownRunError(LookupError):
    """No run of that id exists that the caller may see (its tenant's, or any for an admin).

    `owner_tenant` names the tenant that does own the id, when one does: the audit trail records
    the attempt on another tenant's data, the caller never learns it.
    """

    def __init__(self, message: str, *, owner_tenant: str | None = None) -> None:
        super().__init__(message)
        self.owner_tenant = owner_tenant


class RunConflictError(RuntimeError):
    """The run is in a state that does not allow the operation (e.g. cancel after completion).

    `owner_tenant` names the run's tenant, for the audit entry of an admin acting on another
    tenant's run.
    """

    def __init__(self, message: str, *, owner_tenant: str | None = None) -> None:
        super().__init__(message)
        self.owner_tenant = owner_tenant


class InvalidContinuationError(ValueError):
    """A continuation token that this API did not give out."""


class BatchModeRefusedError(ValueError):
    """The run asked for batch mode and its agent does not allow it."""
