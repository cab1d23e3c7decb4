"""Brokers: where a strategy's orders go — IB in live trading, a fill model in backtests."""

from mats.brokers.base import Broker, OrderEventListener, OrderRejected, resolve_equity
from mats.brokers.orders import OrderHandle, validate_order

__all__ = ["Broker", "OrderEventListener", "OrderHandle", "OrderRejected", "resolve_equity", "validate_order"]
