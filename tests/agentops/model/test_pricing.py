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


def test_the_batch_price_is_half_unless_the_table_says_otherwise() -> None:

    usage = Usage(prompt_tokens=1000, completion_tokens=500)
    table = PriceTable({"listed": Price(0.002, 0.008, batch_input_per_1k=0.0015)})
    interactive = table.cost(usage, "gpt-4o-mini")
    assert interactive > 0
    assert table.cost(usage, "gpt-4o-mini", batch=True) == pytest.approx(interactive / 2)
    # A batch price given for input only: output at half its interactive price.
    assert table.cost(usage, "listed", batch=True) == pytest.approx(0.0015 + 0.5 * 0.004)
    assert table.cost(usage, "unknown", batch=True) == 0.0
    with pytest.raises(ValueError):
        Price(0.001, 0.002, batch_output_per_1k=-1.0)
