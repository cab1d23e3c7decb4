"""Market data for live strategies: IB's 5-second real-time bars aggregated to each strategy's bar size,
aligned to the exchange's sessions."""

from mats.marketdata.aggregate import BarAggregator, parse_bar_size
from mats.marketdata.sessions import Sessions, load_sessions

__all__ = ["BarAggregator", "Sessions", "load_sessions", "parse_bar_size"]
