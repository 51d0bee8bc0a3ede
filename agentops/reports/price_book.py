"""The versioned price table the cost report uses: tokens, Flex Consumption compute, blob storage.

Every section records where its figures came from and when, and the book has one version that
each report quotes. Token prices are per million tokens; a name missing from the table has no
price (the report lists it as unpriced), never a price of zero.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_PRICE_FILE = Path(__file__).with_name("prices.yaml")

NonNegative = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(_Strict):
    source: Annotated[str, Field(min_length=1)]
    as_of: date
    note: str = ""


class TokenPrice(_Strict):
    """Price per million tokens; cached input is the part of the prompt the endpoint had cached."""

    input: NonNegative
    cached_input: NonNegative
    output: NonNegative
    smaller: str | None = None  # a cheaper model for agents whose work is simple

    def cost(self, prompt_tokens: int, cached_tokens: int, completion_tokens: int) -> float:
        fresh = prompt_tokens - cached_tokens
        return (
            fresh * self.input + cached_tokens * self.cached_input + completion_tokens * self.output
        ) / 1_000_000


class TokenPrices(Sourced):
    prices: dict[str, TokenPrice]

    @model_validator(mode="after")
    def _smaller_is_priced(self) -> TokenPrices:
        for name, price in self.prices.items():
            if price.smaller is not None and price.smaller not in self.prices:
                raise ValueError(f"tokens.prices.{name}.smaller: {price.smaller} has no price")
        return self


class FlexConsumptionPrices(Sourced):
    on_demand_per_gb_s: NonNegative
    on_demand_per_million_executions: NonNegative
    on_demand_free_gb_s_per_month: NonNegative
    on_demand_free_executions_per_month: NonNegative
    always_ready_baseline_per_gb_s: NonNegative
    always_ready_execution_per_gb_s: NonNegative
    always_ready_per_million_executions: NonNegative


class BlobStoragePrices(Sourced):
    per_gb_month: NonNegative


class PriceBook(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=64)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    tokens: TokenPrices
    flex_consumption: FlexConsumptionPrices
    blob_storage: BlobStoragePrices

    def token_price(self, deployment: str, model: str | None = None) -> TokenPrice | None:
        """The deployment's price, else its model's; None when neither is in the table."""
        found = self.tokens.prices.get(deployment)
        if found is None and model:
            found = self.tokens.prices.get(model)
        return found


def load_price_book(path: Path = DEFAULT_PRICE_FILE) -> PriceBook:
    with path.open(encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    if not isinstance(doc, dict):
        raise ValueError(f"{path.name}: a price book is a mapping")
    return PriceBook.model_validate(doc)
