"""Fixtures for the store suite: fills to feed and LMDB in temp dirs; the moto S3 server comes from the
``moto_s3`` plugin (tests/moto_s3.py), shared with the scale-out suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from moto_s3 import MotoServer

__all__ = ["MotoServer"]  # test_outage imports it from here


@pytest.fixture
def lmdb_uri(tmp_path: Path) -> str:
    return f"lmdb://{tmp_path}/arctic"


@pytest.fixture(params=["lmdb", "s3"])
def any_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "lmdb":
        return f"lmdb://{tmp_path}/arctic"
    return str(request.getfixturevalue("s3_uri"))
