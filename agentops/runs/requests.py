"""What callers send to start runs and ask agents, validated before anything is stored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RunOptions(BaseModel):
    """Per-run overrides of the app's defaults; unknown options are refused."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int | None = Field(default=None, ge=1, le=100)
    max_in_flight: int | None = Field(default=None, ge=1, le=256)
    item_concurrency: int | None = Field(default=None, ge=1, le=100)
    max_attempts: int | None = Field(default=None, ge=1, le=20)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[str] = Field(min_length=1)
    options: RunOptions = Field(default_factory=RunOptions)


class AskRequest(BaseModel):
    """One query answered synchronously, optionally continuing a conversation."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    thread_id: str | None = Field(default=None, min_length=1, max_length=128)
