"""Shared fixtures: repository paths, the shared datasets, a tiny random model, free ports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import DATASETS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    assert DATASETS.is_dir(), f"the shared datasets are expected at {DATASETS}"
    return DATASETS


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_model import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
