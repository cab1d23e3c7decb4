"""MATS: a multi-strategy automated trading system for Interactive Brokers.

The public names a strategy or a notebook needs; everything else lives in its own module.
"""

__version__ = "0.1.0"

from mats.brokers import OrderHandle, OrderRejected
from mats.instruments import Instrument
from mats.model import Bar, Fill, OrderStatus, Position, StrategySpec, Tick
from mats.strategy import BaseStrategy

__all__ = [
    "Bar",
    "BaseStrategy",
    "Fill",
    "Instrument",
    "OrderHandle",
    "OrderRejected",
    "OrderStatus",
    "Position",
    "StrategySpec",
    "Tick",
    "__version__",
]
