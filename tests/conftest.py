"""Shared test set-up: each file in tests/plugins/ provides the fixtures of one real component."""

from __future__ import annotations

from pathlib import Path

import pytest

# Plugins import one another (host uses postgres); rewriting must be registered before the first of them is imported.
pytest.register_assert_rewrite("tests.plugins")

pytest_plugins = sorted(
    f"tests.plugins.{p.stem}" for p in (Path(__file__).parent / "plugins").glob("*.py") if p.stem != "__init__"
)
