"""MATS's faster ib_async hot paths write exactly what ib_async's own code writes (an ib_async upgrade that
changes its encoder fails here, not in production)."""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from ib_async import (
    ComboLeg,
    CommissionReport,
    Contract,
    ContractDetails,
    Execution,
    Fill,
    Forex,
    Order,
    OrderState,
    OrderStatus,
    Position,
    Stock,
    TagValue,
    Trade,
)
from ib_async.client import Client
from ib_async.decoder import Decoder
from ib_async.util import UNSET_DOUBLE, UNSET_INTEGER

from mats.ib.orders import build_order
from mats.ib.speedups import ORIGINAL_PARSE, ORIGINAL_SEND
from mats.model import OrderRequest, OrderType, TimeInForce


class Colour(enum.IntEnum):
    RED = 1


def connected_client(sent: list[str]) -> Client:
    client = Client(wrapper=None)
    client.isConnected = lambda: True  # type: ignore[method-assign]
    client.sendMsg = sent.append  # type: ignore[method-assign]
    client._serverVersion = 178
    return client


def both_encodings(*fields: object, make_empty: bool = True) -> tuple[str, str]:
    ours: list[str] = []
    theirs: list[str] = []
    connected_client(ours).send(*fields, makeEmpty=make_empty)
    ORIGINAL_SEND(connected_client(theirs), *fields, makeEmpty=make_empty)
    return ours[0], theirs[0]


FIELD = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([UNSET_INTEGER, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([UNSET_DOUBLE, math.inf, -math.inf, 0.0, 1e-7, 123.45]),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
    st.just(Colour.RED),
    st.lists(st.builds(TagValue, st.text(max_size=5), st.text(max_size=5)), max_size=3),
    st.builds(Stock, st.sampled_from(["AAPL", "SPY"]), st.just("SMART"), st.just("USD")),
    st.builds(Contract, conId=st.integers(0, 10**9), strike=st.floats(0, 1e4, allow_nan=False)),
)


@given(st.lists(FIELD, max_size=30), st.booleans())
def test_any_message_is_encoded_byte_for_byte_as_ib_async_encodes_it(
    fields: list[object], make_empty: bool
) -> None:
    ours, theirs = both_encodings(*fields, make_empty=make_empty)
    assert ours == theirs


def test_every_kind_of_order_mats_places_is_encoded_as_ib_async_encodes_it() -> None:
    requests = [
        OrderRequest("s1", "AAPL", 10, con_id=265598),
        OrderRequest("s1", "AAPL", -3, order_type=OrderType.LIMIT, limit_price=187.25, tif=TimeInForce.GTC),
        OrderRequest("s1", "AAPL", 1, order_type=OrderType.STOP, stop_price=150.0),
        OrderRequest("s1", "AAPL", -2, order_type=OrderType.STOP_LIMIT, limit_price=149.5, stop_price=150.0),
    ]
    for contract in (Stock("AAPL", "SMART", "USD", conId=265598), Forex("EURUSD")):
        for n, request in enumerate(requests):
            order = build_order(request, f"mats:s1:{n:026d}", "DU123")
            ours: list[str] = []
            theirs: list[str] = []
            connected_client(ours).placeOrder(7 + n, contract, order)
            original = connected_client(theirs)
            original.send = functools.partial(ORIGINAL_SEND, original)  # type: ignore[method-assign]
            original.placeOrder(7 + n, contract, order)
            assert ours == theirs and len(ours) == 1
            assert ours[0].startswith("3\0")  # placeOrder's message id


def test_an_order_built_from_the_template_equals_the_one_ib_async_constructs() -> None:
    request = OrderRequest("s1", "AAPL", -3, order_type=OrderType.LIMIT, limit_price=187.25)
    first, second = build_order(request, "mats:s1:A", "DU123"), build_order(request, "mats:s1:A", "DU123")
    expected = Order(
        action="SELL", totalQuantity=3, orderType="LMT", tif="DAY", orderRef="mats:s1:A", account="DU123"
    )
    expected.lmtPrice = 187.25
    assert vars(first) == vars(expected)  # Order defines __eq__ by identity, so field by field
    first.algoParams.append(TagValue("maxPctVol", "0.1"))  # each order's lists are its own
    assert second.algoParams == [] and Order().algoParams == []


@given(
    st.sampled_from([Contract, Order, OrderState, Execution, ContractDetails, ComboLeg, Stock]),
    st.data(),
)
def test_parsing_decoded_text_into_objects_matches_ib_async(cls: type, data: st.DataObject) -> None:
    """The decoder fills objects with text; ``parse`` turns the numeric and boolean fields into values."""
    text = st.sampled_from(["", "0", "1", "7", "-3", "12.5", "1e-3"])
    values = {}
    for f in dataclasses.fields(cls):
        if type(f.default) in (int, float, bool):
            raw = data.draw(text)
            if (type(f.default) is not float and "." in raw) or "e" in raw:
                raw = "2"  # the decoder never sends a fraction for an int or bool field
            values[f.name] = raw
    ours, theirs = cls(**values), cls(**values)
    decoder = Decoder(wrapper=None, serverVersion=178)
    decoder.parse(ours)
    ORIGINAL_PARSE(decoder, theirs)
    assert repr(vars(ours)) == repr(vars(theirs))  # an Order equals only itself


def test_a_trade_prints_what_identifies_it_and_nothing_more() -> None:
    order = Order(orderId=3, permId=9, orderRef="mats:s1:X", action="BUY", totalQuantity=5)
    trade = Trade(Stock("AAPL", "SMART", "USD"), order, OrderStatus(orderId=3, status="Submitted"), [], [])
    text = repr(trade)
    assert text == (
        "Trade(orderId=3, permId=9, orderRef='mats:s1:X', BUY 5 AAPL, status='Submitted', filled=0, log=0)"
    )


def test_a_fill_and_a_position_print_what_identifies_them() -> None:
    execution = Execution(execId="0001.01", permId=9, orderRef="mats:s1:X", side="BOT", shares=5, price=101.5)
    fill = Fill(
        Stock("AAPL", "SMART", "USD"), execution, CommissionReport(), datetime(2026, 11, 24, tzinfo=UTC)
    )
    assert (
        repr(fill) == "Fill(AAPL, Execution(execId='0001.01', permId=9, orderRef='mats:s1:X', BOT 5@101.5))"
    )
    position = Position("DU1", Contract(conId=265598), -3.0, 150.25)
    assert repr(position) == "Position('DU1', 265598, position=-3, avgCost=150.25)"
