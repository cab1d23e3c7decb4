"""FXCache answers only with a fresh rate, derives inverses, and never mixes currencies silently."""

from __future__ import annotations

import pytest
from ib_async import IB

from mats.fx import FXCache


async def test_rates_are_quoted_the_ib_way_and_inverted_on_request() -> None:
    fx = FXCache(IB(), ttl=60)
    fx.set_rate("EUR", "USD", 1.10)
    fx.set_rate("USD", "JPY", 150.0)
    assert fx.rate("EUR", "USD") == pytest.approx(1.10)
    assert fx.rate("USD", "EUR") == pytest.approx(1 / 1.10)
    assert fx.rate("JPY", "USD") == pytest.approx(1 / 150.0)
    assert fx.rate("USD", "USD") == 1.0


async def test_an_unknown_or_stale_rate_is_an_error_naming_the_pair() -> None:
    fx = FXCache(IB(), ttl=0.0)
    fx.set_rate("GBP", "USD", 1.25)
    with pytest.raises(LookupError, match=r"GBP\.USD"):
        fx.rate("GBP", "USD")  # older than the ttl
    with pytest.raises(LookupError, match=r"EUR\.USD"):
        fx.rate("USD", "EUR")
