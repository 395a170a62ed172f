"""`import ponder` and the OpenAI path stay light: no torch, transformers or matplotlib."""

from __future__ import annotations

import subprocess
import sys


def test_import_ponder_and_the_openai_path_do_not_import_heavy_libraries():
    code = ("import sys, ponder, ponder.cli, ponder.strategies, ponder.backends.openai, ponder.server.app; "
            "print(sorted(m for m in ('torch', 'transformers', 'matplotlib', 'vllm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
