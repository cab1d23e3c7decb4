"""MATS: a multi-strategy automated trading system for Interactive Brokers."""

__version__ = "0.1.0"
