"""Code execution for strategies and graders: untrusted programs in a limited, isolated process.

``run_python(code, stdin=..., limits=Limits(...)) -> ExecResult`` and its async twin
``arun_python``; ``harness`` runs a solution against assertion tests or on inputs. See
``runner`` for the isolation mechanisms and ``ExecResult.notes`` for what the OS refused.
"""

from .result import STATUSES, ExecResult, Limits, Status
from .runner import SandboxError, arun_python, configure, max_parallel, run_python

__all__ = ["ExecResult", "Limits", "STATUSES", "SandboxError", "Status", "arun_python", "configure",
           "max_parallel", "run_python"]
