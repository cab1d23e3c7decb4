"""Market data for live strategies: IB's 5-second real-time bars aggregated to each strategy's bar size."""

from mats.marketdata.aggregate import BarAggregator, parse_bar_size

__all__ = ["BarAggregator", "parse_bar_size"]
