"""A TWS-API wire-compatible IB Gateway simulator; imports nothing else from MATS so it can ship alone."""

from .clock import VirtualClock
from .control import Control, Fill, PositionSnapshot
from .server import SimConfig, SimServer

__all__ = ["Control", "Fill", "PositionSnapshot", "SimConfig", "SimServer", "VirtualClock"]
