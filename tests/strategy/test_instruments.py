"""Instrument specs of DESIGN section 6 resolve to conId-keyed instruments."""

from __future__ import annotations

import pytest

from mats.instruments import LocalInstrumentTable, UnknownInstrument, parse_spec


def test_plain_symbol_is_a_us_stock_and_dotted_pair_is_idealpro_fx() -> None:
    assert parse_spec("AAPL").sec_type == "STK"
    fx = parse_spec("EUR.USD")
    assert (fx.symbol, fx.sec_type, fx.exchange, fx.currency) == ("EUR", "CASH", "IDEALPRO", "USD")


def test_table_resolves_every_spec_form() -> None:
    table = LocalInstrumentTable()
    assert table.resolve("AAPL").con_id == 265598
    assert table.resolve("EUR.USD").calendar == "24/5"
    es = table.resolve(
        {"symbol": "ES", "sec_type": "FUT", "exchange": "CME", "currency": "USD", "expiry": "202612"}
    )
    assert (es.key, es.multiplier, es.min_tick, es.calendar) == ("ESZ6", 50.0, 0.25, "CMES")
    assert table.resolve("ESZ6") is es
    sap = table.resolve({"symbol": "SAP", "sec_type": "STK", "exchange": "IBIS", "currency": "EUR"})
    assert (sap.currency, sap.calendar) == ("EUR", "XETR")


def test_unknown_symbol_is_refused_with_what_is_known() -> None:
    with pytest.raises(UnknownInstrument, match=r"unknown instrument .APPL..*AAPL"):
        LocalInstrumentTable().resolve("APPL")
    with pytest.raises(UnknownInstrument, match="unknown fields"):
        LocalInstrumentTable().resolve({"symbol": "ES", "expiration": "202612"})


def test_backtest_symbols_become_stocks_with_stable_synthetic_con_ids() -> None:
    a, b = LocalInstrumentTable(), LocalInstrumentTable()
    assert a.add_stock("XYZ").con_id == b.add_stock("XYZ").con_id >= 900_000_000
    assert a.add_stock("AAPL").con_id == 265598


def test_prices_round_to_the_min_tick() -> None:
    table = LocalInstrumentTable()
    assert table.resolve("ESZ6").round_price(5000.13) == 5000.25
    assert table.resolve("AAPL").round_price(189.104999) == 189.10
    assert table.resolve("EUR.USD").round_price(1.100027) == 1.10005
