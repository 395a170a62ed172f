"""Ponder lab: tiny models trained on synthetic reasoning tasks with exact checkers.

The lab generates problems (``ponder.lab.tasks``), renders training traces that
exhibit the behaviours inference-time scaling methods act on (self-verification
after ``Wait``, thought switches with ``Alternatively``, self-backtracking with
``<backtrack>``, draft-style answers), trains a small Llama policy and a
Math-Shepherd style process reward model, and ships both in Hugging Face format
under ``ponder/lab/models``.  Only ``ponder.lab.tasks`` and ``ponder.lab.prompts``
are import-light; everything that needs torch imports it lazily.
"""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
POLICY_DIR = MODELS_DIR / "policy"
PRM_DIR = MODELS_DIR / "prm"

__all__ = ["MODELS_DIR", "POLICY_DIR", "PRM_DIR"]
