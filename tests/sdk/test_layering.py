"""DESIGN: ``sdk/`` depends only on ``model`` inside MATS, so a notebook imports no engine."""

from __future__ import annotations

import ast
from pathlib import Path

import mats.sdk

ALLOWED = {"mats.model"}


def test_the_sdk_imports_nothing_of_mats_but_the_model() -> None:
    root = Path(mats.sdk.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name == "mats" or name.startswith("mats."):
                    assert name.startswith("mats.sdk") or name in ALLOWED, f"{path.name} imports {name}"
