"""The live tests' simulator fixture, for the snapshot tests that drive the engine in-process."""

from __future__ import annotations

from live.conftest import sim

__all__ = ["sim"]
