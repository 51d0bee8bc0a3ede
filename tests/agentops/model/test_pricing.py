import pytest

from agentops.model.pricing import Price, PriceTable
from agentops.model.types import Usage


def test_defaults_overrides_and_fallback():
    table = PriceTable({"support-mini": Price(0.001, 0.002), "gpt-4o": Price(0.01, 0.03)})
    usage = Usage(2000, 1000)
    assert table.cost(usage, "support-mini") == pytest.approx(0.004)
    assert table.cost(usage, "gpt-4o") == pytest.approx(0.05)  # override wins over default
    assert table.cost(usage, "my-deployment", "gpt-4o-mini") == pytest.approx(0.0009)
    assert table.cost(usage, "unknown") == 0.0
    assert PriceTable(fallback=Price(1, 1)).cost(usage, "unknown") == pytest.approx(3.0)


def test_negative_price_is_refused():
    with pytest.raises(ValueError):
        Price(-1, 0)
