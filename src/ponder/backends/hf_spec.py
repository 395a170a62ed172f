"""The model spec of the local Hugging Face backend: ``hf:PATH[?dtype=...&device=...]`` read into a
path and its loading options, every option checked, each mistake named with what is accepted.

Nothing here imports torch: a spec is checked before anything heavy loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from ..errors import ModelSpecError

HF_SPEC_OPTIONS = ("dtype", "device")
DTYPES = ("auto", "float32", "bfloat16", "float16")  # auto: the dtype the checkpoint was saved in
DEVICES = "cpu, cuda, cuda:N, auto"  # auto: the first GPU where torch sees one, else the CPU
_DEVICE = re.compile(r"cpu|auto|cuda(:\d+)?")


@dataclass
class HFSpec:
    path: Path
    dtype: str = "float32"  # float32 on the CPU by default: half precision there is slow or unsupported
    device: str = "cpu"


def parse_hf_spec(spec: str) -> HFSpec:
    """``hf:PATH[?dtype=...&device=...]`` → HFSpec (with clear errors). A directory whose own name
    holds a ``?`` is taken whole."""
    body = spec[len("hf:"):]
    options: dict[str, str] = {}
    if "?" in body and not Path(body).expanduser().is_dir():
        body, query = body.split("?", 1)
        pairs = parse_qsl(query, keep_blank_values=True)
        bare = [part for part in query.split("&") if part and "=" not in part]
        if bare:
            raise ModelSpecError(f"option {bare[0]!r} in {spec!r} has no value; options are key=value, "
                                 f"accepted keys: {', '.join(HF_SPEC_OPTIONS)}")
        options = dict(pairs)
    unknown = set(options) - set(HF_SPEC_OPTIONS)
    if unknown:
        raise ModelSpecError(f"unknown option(s) {sorted(unknown)} in {spec!r}; accepted: {', '.join(HF_SPEC_OPTIONS)}")
    parsed = HFSpec(path=Path(body).expanduser())
    if "dtype" in options:
        if options["dtype"] not in DTYPES:
            raise ModelSpecError(f"dtype= accepts {', '.join(DTYPES)} (auto: the checkpoint's own), "
                                 f"got {options['dtype']!r} in {spec!r}")
        parsed.dtype = options["dtype"]
    if "device" in options:
        if not _DEVICE.fullmatch(options["device"]):
            raise ModelSpecError(f"device= accepts {DEVICES}, got {options['device']!r} in {spec!r}")
        parsed.device = options["device"]
    return parsed


def resolve_device(device: str) -> str:
    """The torch device a checked ``device=`` option names: ``auto`` is the first GPU where torch
    sees one, else the CPU; a GPU that torch does not see is a ModelSpecError saying so."""
    import torch

    if device == "cpu":
        return device
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        return "cuda:0" if count else "cpu"
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        seen = f"sees {count} GPU(s) (cuda:0 to cuda:{count - 1})" if count else "sees no GPU"
        raise ModelSpecError(f"device={device} names a GPU, but torch {seen}; use device=cpu, or device=auto "
                             "for a GPU where there is one")
    return device
