"""Refusals reach the notebook as ``MatsApiError`` with the status and the server's words."""

from __future__ import annotations

import asyncio

import pytest

import mats.sdk
from mats.sdk import MatsApiError

from .conftest import TOKEN, Running


async def test_a_wrong_token_is_a_401_on_http_and_on_the_stream(running: Running) -> None:
    async with mats.sdk.connect(running.url, "not-the-token-at-all") as m:
        assert (await m.health())["status"] == "ok"  # the one public route
        with pytest.raises(MatsApiError) as refused:
            await m.strategies()
        assert refused.value.status == 401 and "token" in refused.value.message
        with pytest.raises(MatsApiError) as closed:
            async with asyncio.timeout(5):
                await anext(m.stream())
        assert closed.value.status == 4401


async def test_bad_requests_name_the_field(running: Running) -> None:
    async with mats.sdk.connect(running.url, TOKEN) as m:
        with pytest.raises(MatsApiError) as wrong_type:
            await m.register(strategy_id="x", cls="strategies.pulse:Pulse", target_weight="lots")
        assert wrong_type.value.status == 400 and "target_weight" in wrong_type.value.message
        with pytest.raises(MatsApiError) as missing:
            await m.register(strategy_id="x", symbols=["AAPL"])
        assert missing.value.status == 400 and "cls" in missing.value.message
        with pytest.raises(MatsApiError) as unknown:
            await m.register({"strategy_id": "x", "cls": "strategies.pulse:Pulse", "colour": "red"})
        assert unknown.value.status == 400 and "colour" in unknown.value.message
        with pytest.raises(MatsApiError) as bad_booking:
            await m.request(
                "POST",
                "/api/portfolio/bookings",
                json={"con_id": "AAPL", "strategy_id": "x", "qty": 1, "reason": "r"},
            )
        assert bad_booking.value.status == 400 and "con_id" in bad_booking.value.message
        with pytest.raises(MatsApiError) as unknown_owner:
            await m.book(con_id=265598, strategy_id="nobody", qty=1, reason="r", price=1.0)
        assert unknown_owner.value.status == 400 and "nobody" in unknown_owner.value.message
        with pytest.raises(MatsApiError) as not_found:
            await m.start("nobody")
        assert not_found.value.status == 404 and "nobody" in not_found.value.message
        with pytest.raises(MatsApiError) as no_order:
            await m.cancel("mats:nobody:1")
        assert no_order.value.status == 404
        assert (await m.strategies()).empty
