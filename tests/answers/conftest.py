"""Shared helpers for the ``ponder.answers`` tests.

Makes ``src/`` importable when the package is not installed and clears the
answer-equivalence cache around every test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

try:  # pragma: no cover - depends on how the package is installed
    import ponder.answers  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(REPO_ROOT / "src"))


@pytest.fixture(autouse=True)
def _clear_answer_cache():
    """Each test starts with an empty equivalence cache."""
    from ponder.answers.equivalence import _answers_equal_cached

    _answers_equal_cached.cache_clear()
    yield
    _answers_equal_cached.cache_clear()
