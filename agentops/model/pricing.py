"""What a model call costs: a price table per deployment or model, per 1,000 tokens.

Defaults cover common Azure OpenAI models (global standard, USD, list prices); settings override
or extend them. The Batch API's price is the table's batch price where it gives one, else half the
interactive price (OpenAI's and Azure OpenAI Global Batch's discount). A deployment is looked up
first, then the model it reports, so a deployment named after its team ("support-mini") can be
priced explicitly while others fall back to the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agentops.model.types import Usage


@dataclass(frozen=True, slots=True)
class Price:
    input_per_1k: float
    output_per_1k: float
    # The Batch API's prices; None: BATCH_DISCOUNT of the interactive ones.
    batch_input_per_1k: float | None = None
    batch_output_per_1k: float | None = None

    def __post_init__(self) -> None:
        given = (
            self.input_per_1k,
            self.output_per_1k,
            self.batch_input_per_1k,
            self.batch_output_per_1k,
        )
        if any(value is not None and value < 0 for value in given):
            raise ValueError("prices must not be negative")

    def for_batch(self) -> Price:
        """What the same tokens cost through the Batch API."""
        return Price(
            self.input_per_1k * BATCH_DISCOUNT
            if self.batch_input_per_1k is None
            else self.batch_input_per_1k,
            self.output_per_1k * BATCH_DISCOUNT
            if self.batch_output_per_1k is None
            else self.batch_output_per_1k,
        )


BATCH_DISCOUNT = 0.5


DEFAULT_PRICES: Mapping[str, Price] = {
    "gpt-4o": Price(0.0025, 0.01),
    "gpt-4o-mini": Price(0.00015, 0.0006),
    "gpt-4.1": Price(0.002, 0.008),
    "gpt-4.1-mini": Price(0.0004, 0.0016),
    "gpt-4.1-nano": Price(0.0001, 0.0004),
    "o3-mini": Price(0.0011, 0.0044),
    "o4-mini": Price(0.0011, 0.0044),
    "gpt-35-turbo": Price(0.0005, 0.0015),
}


class PriceTable:
    """Maps a deployment or model name to its price; unknown names cost ``fallback`` (or 0)."""

    def __init__(
        self,
        overrides: Mapping[str, Price] | None = None,
        *,
        defaults: Mapping[str, Price] = DEFAULT_PRICES,
        fallback: Price | None = None,
    ) -> None:
        self._prices: dict[str, Price] = {**defaults, **(overrides or {})}
        self._fallback = fallback

    def price(self, deployment: str, model: str | None = None) -> Price | None:
        found = self._prices.get(deployment)
        if found is None and model:
            found = self._prices.get(model)
        return found if found is not None else self._fallback

    def cost(
        self, usage: Usage, deployment: str, model: str | None = None, *, batch: bool = False
    ) -> float:
        """What ``usage`` costs interactively, or through the Batch API when ``batch``."""
        price = self.price(deployment, model)
        if price is None:
            return 0.0
        if batch:
            price = price.for_batch()
        return (
            usage.prompt_tokens * price.input_per_1k + usage.completion_tokens * price.output_per_1k
        ) / 1000.0
