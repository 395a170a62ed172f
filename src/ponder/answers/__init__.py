"""Answer extraction and equivalence checking.

Light to import: math-verify (and sympy) are only imported on the first
comparison that needs them.
"""

from .equivalence import answers_equal, group_answers, normalize
from .extract import Extraction, extract_answer, extract_code, last_boxed

__all__ = [
    "Extraction",
    "answers_equal",
    "extract_answer",
    "extract_code",
    "group_answers",
    "last_boxed",
    "normalize",
]
