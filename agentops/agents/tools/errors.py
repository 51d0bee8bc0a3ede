"""The one exception a tool raises for arguments it cannot act on."""

from __future__ import annotations


class ToolArgumentError(ValueError):
    """The model called a tool with arguments that are well-typed but unusable (1 / 0, ...)."""
