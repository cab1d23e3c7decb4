"""Fixtures for the backtest suite: a real ArcticDB on LMDB in a temp dir, opened through ArcticStore."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mats.store import ArcticStore


@pytest.fixture
def arctic_uri(tmp_path: Path) -> str:
    return f"lmdb://{tmp_path}/arctic"


@pytest.fixture
async def store(arctic_uri: str) -> AsyncIterator[ArcticStore]:
    async with ArcticStore(arctic_uri) as opened:
        yield opened
