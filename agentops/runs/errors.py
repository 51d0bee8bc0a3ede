"""Domain errors of runs and agents, mapped to HTTP statuses at the edge."""


class UnknownRunError(LookupError):
    """No run of that id exists for the caller's tenant."""


class RunConflictError(RuntimeError):
    """The run is in a state that does not allow the operation (e.g. cancel after completion)."""


class InvalidContinuationError(ValueError):
    """A continuation token that this API did not give out."""
