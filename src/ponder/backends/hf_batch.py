"""Continuous batching for the hf backend: concurrent requests decode as one batch.

One decoder thread owns the model's sampling loop. A request that arrives while others decode joins
the running batch at the next step: it is prefilled on its own (reusing the prefix cache), its KV
cache is repeated for its ``n`` samples, left-padded to the batch's length and stacked under the
others; an attention mask hides the padding and every row keeps its own position ids. Finished rows
leave the batch at once, and a request whose caller was cancelled (a client that disconnected)
leaves at the next step.

Each request keeps its own sampling controls, a seeded generator per sample (sample ``i`` of a
request seeded ``s`` is seeded ``s + i``), ``min_tokens``, stop strings, logits processors and
streaming callback, so what a seeded request samples does not depend on what it was batched with,
up to float rounding in the padded matrix products (a batch without padding runs exactly the
unbatched computation). Caches that cannot be stacked (anything but plain
``DynamicCache`` layers, e.g. sliding windows) decode one request at a time.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import queue
import random
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..types import Generation, GenerationRequest, Usage
from .base import truncate_at_stop

if TYPE_CHECKING:
    from .hf import HFBackend

TokenCallback = Callable[[int, str], None]  # (sample index, text delta)

MAX_ROWS = 256  # rows decoded together; a request that would pass this waits (one larger request runs alone)
IDLE_SECONDS = 30.0  # the decoder thread ends after this long without work (it restarts on demand)


_EXITING = threading.Event()
_DECODERS: "weakref.WeakSet[BatchDecoder]" = weakref.WeakSet()


@atexit.register
def _stop_decoders() -> None:
    """At the interpreter's exit, each decoder thread finishes the step it is taking and ends, and
    the exit waits for it: a daemon thread still inside a torch call when the interpreter finalizes
    aborts the process ("terminate called without an active exception", exit code 134), which a
    script that ended or was interrupted during a call met every time."""
    _EXITING.set()
    for decoder in list(_DECODERS):
        thread = decoder._thread
        if thread is not None and thread.is_alive():
            decoder._queue.put(None)  # wakes a loop waiting for work
            thread.join(timeout=30)


@dataclass(eq=False)
class DecodeJob:
    """One ``generate`` call in flight: its request, its samples so far, and its future."""

    request: GenerationRequest
    on_token: TokenCallback | None
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    cancelled: bool = False
    n: int = 1
    prompt_text: str = ""
    prompt_ids: list[int] = field(default_factory=list)
    reused: int = 0
    rngs: list[random.Random] = field(default_factory=list)  # one generator per sample
    prompt_t: Any = None
    step: int = 0
    max_tokens: int = 0  # the request's, cut to what the context window leaves after the prompt
    stop_tail: int = 0  # trailing tokens to decode when looking for a stop string (its bytes, and 2)
    generated: list[list[int]] = field(default_factory=list)
    logps: list[list[float]] = field(default_factory=list)
    finish: list[str | None] = field(default_factory=list)
    emitted: list[str] = field(default_factory=list)

    def cancel(self) -> None:
        """The caller gave up: the job leaves the batch at the next step."""
        self.cancelled = True


@dataclass
class _Batch:
    rows: list[tuple[DecodeJob, int]] = field(default_factory=list)  # (job, sample index) per row
    cache: Any = None
    logits: Any = None  # next-token logits per row
    mask: Any = None  # 1 = real token, 0 = left padding; None while no row is padded
    pos: Any = None  # the position id of each row's next token


class BatchDecoder:
    """The decoding loop of one :class:`HFBackend`, shared by all its concurrent requests."""

    def __init__(self, backend: HFBackend) -> None:
        self.b = backend
        self._queue: queue.SimpleQueue[DecodeJob | None] = queue.SimpleQueue()  # None: wake up and look
        self._waiting: list[DecodeJob] = []  # taken from the queue, not yet admitted
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self.stackable = True  # set False the first time a cache cannot be stacked
        _DECODERS.add(self)

    def submit(self, request: GenerationRequest, on_token: TokenCallback | None = None) -> DecodeJob:
        job = DecodeJob(request, on_token)
        with self._start:
            self._queue.put(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ponder-hf-decoder", daemon=True)
                self._thread.start()
        return job

    # -- the loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        import torch

        batch = _Batch()
        while True:
            if _EXITING.is_set():  # the interpreter is exiting: no one waits for these jobs any more
                return
            if not batch.rows and not self._waiting:
                try:
                    job = self._queue.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    with self._start:  # end only if no job slipped in meanwhile
                        if self._queue.empty():
                            self._thread = None
                            return
                    continue
                if job is not None:
                    self._waiting.append(job)
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    self._waiting.append(job)
            try:
                with self.b._lock, torch.inference_mode():
                    torch.set_num_threads(self.b.threads)
                    self._admit(batch)
                    if batch.rows:
                        self._step(batch)
            except BaseException as exc:  # a failure of the batched forward: fail every job in it
                for job in {j for j, _ in batch.rows}:
                    _fail(job, exc)
                batch = _Batch()

    def _admit(self, batch: _Batch) -> None:
        """Move waiting jobs into the batch while there is room (all of them when stacking works)."""
        still: list[DecodeJob] = []
        for job in self._waiting:
            if job.cancelled:
                job.future.cancel()
                continue
            n = max(1, job.request.n)
            room = not batch.rows or (self.stackable and len(batch.rows) + n <= MAX_ROWS)
            if not room:
                still.append(job)
                continue
            try:
                self._start_job(job, batch)
            except Exception as exc:  # noqa: BLE001 - the job's own failure (a prompt the model cannot take)
                _fail(job, exc)
        self._waiting = still

    def _start_job(self, job: DecodeJob, batch: _Batch) -> None:
        import torch

        b, req = self.b, job.request
        job.prompt_text = b.render(req)
        job.prompt_ids = b.prompt_ids(job.prompt_text)
        b.check_fits(len(job.prompt_ids), generate=req.max_tokens > 0)
        job.max_tokens = req.max_tokens
        if b.context_length is not None:  # a sample ends "length" at the end of the window
            job.max_tokens = min(req.max_tokens, b.context_length - len(job.prompt_ids))
        job.n = n = max(1, req.n)
        # a token holds at least a byte of text: a stop string of k bytes is in the last k tokens
        job.stop_tail = max((len(s.encode("utf-8")) for s in req.stop), default=0) + 2
        # sample i of a request seeded s is seeded s + i: what one call of n samples draws, n calls of
        # one sample (seeded s, s + 1, ...) or calls of a few draw too (the Engine's waves, a server's
        # fan-out)
        job.rngs = [random.Random(None if req.seed is None else int(req.seed) + i) for i in range(n)]
        job.generated, job.logps = [[] for _ in range(n)], [[] for _ in range(n)]
        job.finish, job.emitted = [None] * n, [""] * n
        if req.logits_processors:
            job.prompt_t = torch.tensor(job.prompt_ids, device=b.device)
        cache, logits, job.reused = b._prefill(job.prompt_ids)
        if job.max_tokens <= 0:
            job.finish = ["length"] * n
            self._complete(job)
            return
        if n > 1:
            cache.batch_repeat_interleave(n)
            logits = logits.expand(n, -1)
        length = len(job.prompt_ids)
        if not batch.rows:
            self.stackable = plain_cache(cache)
            batch.cache, batch.logits, batch.mask = cache, logits, None
            batch.pos = torch.full((n,), length, dtype=torch.long, device=b.device)
        else:
            self._stack(batch, cache, logits, n, length)
        batch.rows.extend((job, i) for i in range(n))

    def _stack(self, batch: _Batch, cache: Any, logits: Any, n: int, length: int) -> None:
        """Put ``n`` new rows (their cache holds ``length`` tokens) under the batch, padding on the left."""
        import torch

        layers_a, layers_b = batch.cache.layers, getattr(cache, "layers", None)
        if not plain_cache(cache) or len(layers_a) != len(layers_b):
            self.stackable = False
            raise RuntimeError("this model's KV cache cannot be stacked into a running batch; "
                               "its requests now decode one at a time, retry this one")
        rows = len(batch.rows)
        have = batch.cache.get_seq_length()
        total = max(have, length)
        dev = self.b.device
        mask_a = batch.mask if batch.mask is not None else torch.ones(rows, have, dtype=torch.long, device=dev)
        mask_b = torch.ones(n, length, dtype=torch.long, device=dev)
        for la, lb in zip(layers_a, layers_b):
            la.keys = torch.cat([_left_pad(la.keys, total), _left_pad(lb.keys, total)])
            la.values = torch.cat([_left_pad(la.values, total), _left_pad(lb.values, total)])
        batch.mask = torch.cat([_left_pad(mask_a, total), _left_pad(mask_b, total)])
        batch.logits = torch.cat([batch.logits, logits])
        batch.pos = torch.cat([batch.pos, torch.full((n,), length, dtype=torch.long, device=dev)])

    def _step(self, batch: _Batch) -> None:
        """Pick one token for every row, settle finished rows and jobs, run the batch one step."""
        import torch

        b = self.b
        scores = batch.logits  # indexing by a job's rows copies: processors write on that copy
        tokens = torch.empty(len(batch.rows), dtype=torch.long, device=b.device)
        logps: dict[int, float] = {}
        failed: set[DecodeJob] = set()
        for job, rows in _groups(batch.rows):
            if job.cancelled:
                failed.add(job)
                continue
            req, idx = job.request, torch.tensor(rows, device=b.device)
            try:
                s = scores[idx]
                if req.logits_processors:
                    ids = torch.stack([torch.cat([job.prompt_t, torch.tensor(job.generated[batch.rows[r][1]],
                                      dtype=torch.long, device=b.device)]) for r in rows])
                    for proc in req.logits_processors:
                        s = proc(ids, s)
                if job.step < req.min_tokens and b.eos_ids:
                    s[:, sorted(b.eos_ids)] = float("-inf")
                picked = b._pick(s, req.temperature, req.top_p, [job.rngs[batch.rows[r][1]] for r in rows])
            except Exception as exc:  # noqa: BLE001 - a logits processor of this request failed
                _fail(job, exc)
                failed.add(job)
                continue
            tokens[idx] = picked
            if req.logprobs:
                lp = torch.log_softmax(batch.logits[idx], dim=-1).gather(1, picked[:, None])[:, 0].tolist()
                logps.update(zip(rows, lp))
            job.step += 1

        keep: list[int] = []
        picked_all = tokens.tolist()
        for r, (job, i) in enumerate(batch.rows):
            if job in failed:
                if job.cancelled:
                    job.future.cancel()
                continue
            if self._advance(job, i, picked_all[r], logps.get(r)):
                keep.append(r)
            elif all(f is not None for f in job.finish):
                self._complete(job)
        if not keep:
            batch.rows, batch.cache, batch.logits, batch.mask, batch.pos = [], None, None, None, None
            return
        if len(keep) < len(batch.rows):
            sel = torch.tensor(keep, device=b.device)
            batch.cache.batch_select_indices(sel)
            batch.rows = [batch.rows[r] for r in keep]
            tokens, batch.pos = tokens[sel], batch.pos[sel]
            if batch.mask is not None:
                batch.mask = _drop_padding(batch, batch.mask[sel])
        if batch.mask is None:  # no padding: exactly the unbatched computation
            out = b.model(input_ids=tokens[:, None], past_key_values=batch.cache, use_cache=True)
        else:
            batch.mask = torch.cat([batch.mask, torch.ones(len(keep), 1, dtype=torch.long, device=b.device)], 1)
            out = b.model(input_ids=tokens[:, None], past_key_values=batch.cache, attention_mask=batch.mask,
                          position_ids=batch.pos[:, None], use_cache=True)
        batch.cache = out.past_key_values
        batch.logits = out.logits[:, -1, :].float()
        batch.pos = batch.pos + 1

    def _advance(self, job: DecodeJob, i: int, tok: int, logp: float | None) -> bool:
        """Record sample ``i``'s new token; True while the sample goes on."""
        b, req = self.b, job.request
        job.generated[i].append(tok)
        if logp is not None:
            job.logps[i].append(logp)
        if tok in b.eos_ids:
            job.finish[i] = "stop"
        elif self._at_stop(job, job.generated[i]):
            job.finish[i] = "stop"
        elif len(job.generated[i]) >= job.max_tokens:
            job.finish[i] = "length"
        elif req.deadline is not None and time.monotonic() >= req.deadline:
            job.finish[i] = "budget"  # the time budget ran out during this call
        if job.on_token is not None:
            text_ids = job.generated[i][:-1] if job.finish[i] == "stop" and tok in b.eos_ids else job.generated[i]
            try:
                job.emitted[i] = b._emit(job.on_token, i, text_ids, job.emitted[i], req.stop,
                                         final=job.finish[i] is not None, after=b.stop_after(text_ids, req.min_tokens))
            except Exception as exc:  # noqa: BLE001 - the caller's callback failed: so does its job
                _fail(job, exc)
                job.cancelled = True  # its other rows leave at the next step
        return job.finish[i] is None

    def _at_stop(self, job: DecodeJob, ids: list[int]) -> bool:
        """Whether the newest token completed a stop string. As in vLLM, none counts before
        ``min_tokens`` tokens: a stop string must end in token ``min_tokens`` or a later one."""
        req = job.request
        if not req.stop or len(ids) < req.min_tokens:
            return False
        if req.min_tokens and len(ids) - req.min_tokens < job.stop_tail:  # one that ended earlier is still in view
            _, cut = truncate_at_stop(self.b.decode(ids), req.stop, after=self.b.stop_after(ids, req.min_tokens))
            return cut
        return any(s in self.b.decode(ids[-job.stop_tail:]) for s in req.stop)

    def _complete(self, job: DecodeJob) -> None:
        b, req = self.b, job.request
        samples = [b._sample(job.prompt_text, job.generated[i], job.logps[i] if req.logprobs else None,
                             job.finish[i] or "length", req.stop, req.min_tokens) for i in range(job.n)]
        reasoning = sum(s.reasoning_tokens or 0 for s in samples) if b.think_ids is not None else None
        usage = Usage(prompt_tokens=len(job.prompt_ids), cached_prompt_tokens=job.reused,
                      completion_tokens=sum(len(g) for g in job.generated), reasoning_tokens=reasoning)
        if not job.future.done():
            job.future.set_result(Generation(samples=samples, usage=usage))


def _groups(rows: list[tuple[DecodeJob, int]]) -> list[tuple[DecodeJob, list[int]]]:
    """Row indices per job, in order of first appearance."""
    out: dict[DecodeJob, list[int]] = {}
    for r, (job, _) in enumerate(rows):
        out.setdefault(job, []).append(r)
    return list(out.items())


def _left_pad(t: Any, length: int) -> Any:
    """Pad dimension -2 of a cache tensor (or -1 of a mask) with zeros on the left up to ``length``."""
    import torch

    dim = -1 if t.dim() == 2 else -2
    missing = length - t.shape[dim]
    if missing <= 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([torch.zeros(shape, dtype=t.dtype, device=t.device), t], dim=dim)


def _drop_padding(batch: _Batch, mask: Any) -> Any:
    """After rows left: cut the columns that are padding in every remaining row."""
    start = int(mask.any(0).long().argmax())
    if start == 0:
        return mask
    for layer in batch.cache.layers:
        layer.keys = layer.keys[:, :, start:]
        layer.values = layer.values[:, :, start:]
    mask = mask[:, start:]
    return None if bool(mask.all()) else mask


def plain_cache(cache: Any) -> bool:
    """Whether ``cache`` is made of plain ``DynamicLayer``s (which can be padded and stacked)."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def _fail(job: DecodeJob, exc: BaseException) -> None:
    if job.cancelled:
        job.future.cancel()
    elif not job.future.done():
        job.future.set_exception(exc)
