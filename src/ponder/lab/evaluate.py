"""Quick standalone evaluation of the lab models with raw ``transformers`` generate.

Figures: greedy accuracy, one-sample accuracy at temperature T (mean over all
samples), majority-of-k, any-of-k, PRM best-of-k (last-step and min aggregate)
and PRM step-level AUROC against the exact step labels.  Also s1-style budget
forcing (replace ``</think>`` by ``Wait,`` once and continue).

    python -m ponder.lab.evaluate policy --model src/ponder/lab/models/policy --n 300
    python -m ponder.lab.evaluate prm --prm src/ponder/lab/models/prm --samples samples.json \
        [--policy src/ponder/lab/models/policy]   # also best-of-k by the policy's likelihood
    python -m ponder.lab.evaluate probe --prm src/ponder/lab/models/prm   # does it check steps
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path


WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")


def check_model_files(path, option: str = "--model"):
    """Refuse, cheaply and before any work, a directory that is not a model: it must exist with a
    config.json and weights, and its config and tokenizer must load (``ModelSpecError`` naming
    ``option`` otherwise). Returns the tokenizer."""
    from transformers import AutoConfig, AutoTokenizer

    from ..backends.hf import load_failure
    from ..errors import ModelSpecError

    d = Path(path).expanduser()
    wanted = "give a model directory saved with save_pretrained (config.json, tokenizer, weights)"
    if not d.exists():
        raise ModelSpecError(f"{option} {str(d)!r} is not a model directory: it does not exist; {wanted}")
    if not d.is_dir() or not (d / "config.json").is_file():
        raise ModelSpecError(f"{option} {str(d)!r} is not a model directory (no config.json); {wanted}")
    if not any((d / w).is_file() for w in WEIGHTS_FILES):
        raise ModelSpecError(f"{option} {str(d)!r} has no weights ({' or '.join(WEIGHTS_FILES[::2])}); {wanted}")
    try:
        AutoConfig.from_pretrained(str(d), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever fails here is the directory's fault
        raise ModelSpecError(f"{option}: cannot load the config of {str(d)!r}: {load_failure(exc)}") from exc
    try:
        return AutoTokenizer.from_pretrained(str(d), local_files_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ModelSpecError(f"{option}: cannot load the tokenizer of {str(d)!r}: {load_failure(exc)}") from exc


def check_policy_model(path, option: str = "--model"):
    """``check_model_files``, and refuse a PRM (its directory holds ``ponder_prm.json``): it scores
    steps and writes no answers, so sampling it measures nothing (as ``ponder lab eval`` refuses
    it, ``engine.writer``). Returns the tokenizer."""
    from ..backends.base import is_reward_model
    from ..errors import ModelSpecError

    tok = check_model_files(path, option)
    if is_reward_model(path):
        raise ModelSpecError(f"{option} {str(path)!r} is a process reward model (its directory holds "
                             "ponder_prm.json): it scores steps and writes no answers; give a policy, and the "
                             "PRM as --prm")
    return tok


def check_prm_dir(path, option: str = "--prm") -> dict:
    """Refuse, before any work, a ``--prm`` that is not a step-tag PRM: ``check_model_files`` and a
    readable ``ponder_prm.json``. Returns that config."""
    from ..errors import ModelSpecError
    from ..scorers.prm import read_prm_config

    check_model_files(path, option)
    try:
        return read_prm_config(f"hf:{Path(path).expanduser()}")
    except ModelSpecError as exc:
        raise ModelSpecError(f"{option}: {exc}") from exc
    except (ValueError, OSError) as exc:  # ponder_prm.json is there but not readable JSON
        raise ModelSpecError(f"{option} {str(path)!r}: cannot read its ponder_prm.json: {exc}") from exc


def read_samples(path) -> dict:
    """The samples file ``evaluate policy --samples-out`` wrote, checked (``LabError`` naming what is
    wrong): JSON with a known ``task``, ``problems`` and a non-empty ``samples`` list, one list of
    equally many texts per problem."""
    from .tasks import TASKS
    from .train import LabError

    wanted = "give the file written by python -m ponder.lab.evaluate policy --samples-out"
    try:
        d = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabError(f"--samples {str(path)!r} cannot be read ({exc.strerror or exc}); {wanted}") from exc
    except ValueError as exc:
        raise LabError(f"--samples {str(path)!r} is not JSON ({exc}); {wanted}") from exc
    ss = d.get("samples") if isinstance(d, dict) else None
    if (not isinstance(d, dict) or d.get("task") not in TASKS or not isinstance(d.get("problems"), list)
            or not isinstance(ss, list) or not ss or len(ss) != len(d["problems"])
            or not all(isinstance(x, list) and x and len(x) == len(ss[0]) for x in ss)):
        raise LabError(f"--samples {str(path)!r} is not a samples file (a task of {', '.join(TASKS)}, its "
                       f"problems and k samples for each); {wanted}")
    return d


def load_model(path):
    """Model (float32, eval mode) and tokenizer from a directory, offline. A directory that is
    not a model, or whose files do not load, is a ``ModelSpecError`` (as with ``HFBackend``)."""
    import torch
    from transformers import AutoModelForCausalLM

    from ..backends.hf import load_failure
    from ..errors import ModelSpecError
    from .train import DEFAULT_THREADS

    torch.set_num_threads(DEFAULT_THREADS)
    tok = check_model_files(path, "model")
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32,
                                                     local_files_only=True).eval()
    except Exception as exc:  # noqa: BLE001 - weights that do not fit config.json, a truncated file
        raise ModelSpecError(f"cannot load a causal LM from {str(path)!r}: {load_failure(exc)}") from exc
    return model, tok


def _prompts(tok, messages_list):
    return [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
            for m in messages_list]


def sample(model, tok, messages_list, n: int = 1, temperature: float = 1.0, greedy: bool = False,
           max_new_tokens: int = 256, batch_seqs: int = 256, seed: int = 0,
           prefixes: list[str] | None = None, stop_at_think_close: bool = False) -> list[list[str]]:
    """Generate ``n`` completions per chat; returns decoded assistant texts.

    ``prefixes`` are assistant-text prefixes to continue from (one per chat).
    With ``stop_at_think_close`` generation also stops at ``</think>`` (kept in the text).
    """
    import torch

    torch.manual_seed(seed)
    texts = _prompts(tok, messages_list)
    if prefixes is not None:
        texts = [t + p for t, p in zip(texts, prefixes)]
    eos = [tok.eos_token_id]
    if stop_at_think_close:
        eos.append(tok.convert_tokens_to_ids("</think>"))
    per = max(1, batch_seqs // n)
    out: list[list[str]] = []
    tok.padding_side = "left"
    t0 = last = time.time()
    for i in range(0, len(texts), per):
        if time.time() - last > 60:  # long runs (PRM data, big evaluations) say how far they are
            last = time.time()
            print(f"sampled {i}/{len(texts)} prompts x {n} in {last - t0:.0f}s", file=sys.stderr, flush=True)
        enc = tok(texts[i:i + per], return_tensors="pt", padding=True, add_special_tokens=False)
        kw = dict(do_sample=False) if greedy else dict(do_sample=True, temperature=temperature,
                                                       top_p=1.0, top_k=0)
        with torch.no_grad():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, num_return_sequences=n,
                                 eos_token_id=eos, pad_token_id=tok.pad_token_id, **kw)
        new = gen[:, enc["input_ids"].shape[1]:]
        dec = tok.batch_decode(new, skip_special_tokens=True)
        for j in range(0, len(dec), n):
            out.append(dec[j:j + n])
    return out


def majority(answers: list[str | None]) -> str | None:
    """Most common non-empty answer (first seen wins ties)."""
    c = Counter(a for a in answers if a)
    return c.most_common(1)[0][0] if c else None


def _norm(a: str | None) -> str | None:
    if a is None:
        return None
    a = a.strip()
    return a.lstrip("0") or "0" if a.isdigit() else a


def prompt_messages(question: str, prompt: str = "plain") -> list[dict]:
    """Messages for an evaluation prompt style: plain, cot, draft (system message)."""
    from .prompts import COT_INSTRUCTION, DRAFT_INSTRUCTION

    if prompt == "plain":
        return [{"role": "user", "content": question}]
    instr = COT_INSTRUCTION if prompt == "cot" else DRAFT_INSTRUCTION
    return [{"role": "system", "content": instr}, {"role": "user", "content": question}]


def _lab_error(msg: str):
    from .train import LabError

    return LabError(msg)


def _check_sampling(task: str, n: int, k: int, temperature: float, seed: int | None = None,
                    greedy_ok: bool = True):
    """The task module, once ``task``, ``n``, ``k``, ``temperature`` and the problem ``seed`` are
    checked (``LabError`` naming the option and what it accepts); before any model loads."""
    from .recipe import training_seed_note
    from .tasks import TASKS

    if task not in TASKS:
        raise _lab_error(f"--task {task!r} is not a lab task; give one of {', '.join(TASKS)}")
    if n < 1 or k < 1:
        raise _lab_error(f"--n and --k must be at least 1 (problems, samples per problem), got {n} and {k}")
    if not (math.isfinite(temperature) and (temperature >= 0 if greedy_ok else temperature > 0)):
        raise _lab_error(f"--temperature must be a finite number {'>= 0 (0: greedy)' if greedy_ok else '> 0'}, "
                         f"got {temperature}")
    note = training_seed_note(seed) if seed is not None else None
    if note:
        raise _lab_error(f"--seed {seed}: {note}")
    return TASKS[task]


def evaluate_policy(model_dir, task: str = "arith", n: int = 300, k: int = 16, seed: int = 12345,
                    difficulty: int | None = None, temperature: float = 1.0, prompt: str = "plain",
                    samples_out: str | None = None) -> dict:
    """Greedy / one-sample / maj@k / any@k accuracy on ``n`` held-out problems."""
    from .tasks import extract_answer

    T = _check_sampling(task, n, k, temperature, seed)
    try:  # before the model loads: a difficulty the task does not have is refused at once
        probs = T.generate(n, seed=seed, difficulty=difficulty)
    except ValueError as exc:
        raise _lab_error(f"--difficulty: {exc}") from exc
    check_policy_model(model_dir, "--model")
    model, tok = load_model(model_dir)
    msgs = [prompt_messages(p.question, prompt) for p in probs]
    t0 = time.time()
    greedy = [o[0] for o in sample(model, tok, msgs, n=1, greedy=True)]
    if temperature == 0:  # greedy decoding: the k samples are the greedy answer (generate cannot sample at 0)
        samples = [[g] * k for g in greedy]
    else:
        samples = sample(model, tok, msgs, n=k, temperature=temperature, seed=seed)
    secs = time.time() - t0
    g = one = maj = anyk = 0
    lengths = []
    for p, gt, ss in zip(probs, greedy, samples):
        g += T.check(p, extract_answer(gt))
        ok = [T.check(p, extract_answer(s)) for s in ss]
        one += sum(ok) / k
        anyk += any(ok)
        m = majority([_norm(extract_answer(s)) for s in ss])
        maj += T.check(p, m)
        lengths += [len(tok.encode(s, add_special_tokens=False)) for s in ss]
    res = {"task": task, "n": n, "k": k, "temperature": temperature, "prompt": prompt,
           "difficulty": difficulty, "greedy": g / n, "one_sample": one / n,
           f"maj@{k}": maj / n, f"any@{k}": anyk / n,
           "mean_tokens": sum(lengths) / max(1, len(lengths)), "seconds": round(secs, 1)}
    if samples_out:
        Path(samples_out).write_text(json.dumps({
            "task": task, "seed": seed, "difficulty": difficulty, "prompt": prompt,
            "problems": [p.id for p in probs], "samples": samples,
            "problem_data": [dataclasses.asdict(p) for p in probs]}) + "\n")
    return res


def _continue(model, tok, msgs, texts: dict[int, str], seed, temperature,
              stop_at_think_close=False) -> dict[int, str]:
    """Continue the assistant prefixes ``texts`` (index -> prefix) of chats ``msgs``."""
    idx = sorted(texts)
    outs = sample(model, tok, [msgs[i] for i in idx], n=1, temperature=temperature, seed=seed,
                  prefixes=[texts[i] for i in idx], stop_at_think_close=stop_at_think_close)
    return {i: texts[i] + o[0] for i, o in zip(idx, outs)}


def _force(t: str) -> str:
    return t[: t.rindex("</think>")] + "Wait,"


def budget_forcing(model_dir, task: str = "arith", n: int = 300, k: int = 4, seed: int = 12345,
                   temperature: float = 1.0, waits: int = 1, difficulty: int | None = None) -> dict:
    """s1 budget forcing, paired: the same first pass (sampled up to ``</think>``) is either
    continued normally or has its ``</think>`` replaced by ``Wait,`` (``waits`` times)."""
    from .tasks import extract_answer

    T = _check_sampling(task, n, k, temperature, seed, greedy_ok=False)
    if waits < 1:
        raise _lab_error(f"--waits must be at least 1 (times </think> is replaced by Wait,), got {waits}")
    probs = T.generate(n, seed=seed, difficulty=difficulty)
    check_policy_model(model_dir, "--model")
    model, tok = load_model(model_dir)
    msgs = [prompt_messages(p.question) for p in probs for _ in range(k)]
    rep = [p for p in probs for _ in range(k)]
    first = [o[0] for o in sample(model, tok, msgs, n=1, temperature=temperature, seed=seed,
                                  stop_at_think_close=True)]
    closed = {i: t for i, t in enumerate(first) if t.endswith("</think>")}
    plain = dict(enumerate(first))
    plain.update(_continue(model, tok, msgs, closed, seed + 100, temperature))
    forced = dict(enumerate(first))
    cur = {i: _force(t) for i, t in closed.items()}
    for w in range(waits):
        last = w == waits - 1
        done = _continue(model, tok, msgs, cur, seed + 200 + w, temperature,
                         stop_at_think_close=not last)
        forced.update(done)
        cur = {i: _force(t) for i, t in done.items() if not last and t.endswith("</think>")}
    acc0 = sum(T.check(p, extract_answer(plain[i])) for i, p in enumerate(rep)) / len(rep)
    acc1 = sum(T.check(p, extract_answer(forced[i])) for i, p in enumerate(rep)) / len(rep)
    return {"task": task, "n": n, "k": k, "temperature": temperature, "waits": waits,
            "accuracy_no_forcing": acc0, "accuracy_forced": acc1,
            "closed_fraction": len(closed) / len(first), "example": forced[0]}


def prm_step_scores(prm_dir, messages_list, texts, batch_size: int = 64, loaded=None) -> list[list[float]]:
    """Generic step-tag PRM scoring using ``ponder_prm.json``: P(good) at every tag
    (``loaded``: the PRM's ``(model, tokenizer)`` if the caller has them already)."""
    import torch

    from .tasks import insert_step_tags

    spec = json.loads((Path(prm_dir) / "ponder_prm.json").read_text())
    model, tok = loaded or load_model(prm_dir)
    tag = tok.convert_tokens_to_ids(spec["step_tag"])
    good = tok.convert_tokens_to_ids(spec["good_token"])
    bad = tok.convert_tokens_to_ids(spec["bad_token"])
    inputs = [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
              + insert_step_tags(t, spec["step_tag"]) for m, t in zip(messages_list, texts)]
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    scores: list[list[float]] = [[] for _ in inputs]
    tok.padding_side = "right"
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        enc = tok([inputs[i] for i in idx], return_tensors="pt", padding=True,
                  add_special_tokens=False)
        with torch.no_grad():
            logits = model(**enc).logits[:, :, [good, bad]].float()
        probs = logits.softmax(-1)[:, :, 0]
        for r, i in enumerate(idx):
            sel = enc["input_ids"][r] == tag
            scores[i] = probs[r][sel].tolist()
    tok.padding_side = "left"
    return scores


def mean_logprobs(model_dir, messages_list, texts, batch_size: int = 64) -> list[float]:
    """Mean token log-probability of each assistant text under a policy (the baseline a
    verifier has to beat: choosing by the generator's own likelihood)."""
    import torch

    model, tok = load_model(model_dir)
    prompts = _prompts(tok, messages_list)
    out = [0.0] * len(texts)
    tok.padding_side = "right"
    for s in range(0, len(texts), batch_size):
        idx = list(range(s, min(s + batch_size, len(texts))))
        enc = tok([prompts[i] + texts[i] for i in idx], return_tensors="pt", padding=True,
                  add_special_tokens=False)
        with torch.no_grad():
            lp = model(**enc).logits.float().log_softmax(-1)
        token_lp = lp[:, :-1].gather(2, enc["input_ids"][:, 1:, None])[:, :, 0]
        for r, i in enumerate(idx):
            start = len(tok(prompts[i], add_special_tokens=False)["input_ids"]) - 1
            end = int(enc["attention_mask"][r].sum()) - 1
            out[i] = float(token_lp[r, start:end].mean()) if end > start else float("-inf")
    tok.padding_side = "left"
    return out


def auroc(scores: list[float], labels: list[bool]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    ranked = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        avg = (i + j + 1) / 2
        rank_sum += avg * sum(1 for t in ranked[i:j] if t[1])
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def evaluate_prm(prm_dir, samples_file: str, policy_dir=None) -> dict:
    """PRM best-of-k (aggregated by last / min / prod / mean, as the ``prm`` scorer's ``agg``), step
    AUROC and answer AUROC (the last step's score against the answer's correctness, what best-of-k
    lives on) on saved policy samples; with ``policy_dir``, also best-of-k by the policy's mean
    token log-probability."""
    from .tasks import TASKS, LabProblem, extract_answer

    check_prm_dir(prm_dir, "--prm")
    d = read_samples(samples_file)
    if policy_dir is not None:
        check_policy_model(policy_dir, "--policy")
    T = TASKS[d["task"]]
    try:
        if "problem_data" in d:
            probs = [LabProblem(**x) for x in d["problem_data"]]
        else:  # older files: regenerate (only valid with the same default difficulty mix)
            probs = T.generate(len(d["problems"]), seed=d["seed"], difficulty=d["difficulty"])
    except (TypeError, KeyError, ValueError) as exc:
        raise _lab_error(f"--samples {samples_file!r}: its problems cannot be read ({exc})") from exc
    if [p.id for p in probs] != d["problems"]:
        raise _lab_error(f"--samples {samples_file!r}: its problem data does not match its problem ids")
    flat_p, flat_m, flat_t = [], [], []
    for p, ss in zip(probs, d["samples"]):
        for s in ss:
            flat_p.append(p)
            flat_m.append(prompt_messages(p.question, d.get("prompt", "plain")))
            flat_t.append(s)
    scores = prm_step_scores(prm_dir, flat_m, flat_t)
    all_s, all_y = [], []
    for p, t, sc in zip(flat_p, flat_t, scores):
        labels = T.step_labels(p, t)
        if len(labels) == len(sc):
            all_s += sc
            all_y += labels
    k = len(d["samples"][0])
    aggs = {"last": lambda i: scores[i][-1] if scores[i] else 0.0,
            "min": lambda i: min(scores[i]) if scores[i] else 0.0,
            "prod": lambda i: math.prod(scores[i]) if scores[i] else 0.0,
            "mean": lambda i: sum(scores[i]) / len(scores[i]) if scores[i] else 0.0}
    right = [T.check(p, extract_answer(t)) for p, t in zip(flat_p, flat_t)]
    res = {"n": len(probs), "k": k, "step_auroc": auroc(all_s, all_y), "steps": len(all_y),
           "answer_auroc": auroc([aggs["last"](i) for i in range(len(flat_t))], right)}
    if policy_dir is not None:
        lps = mean_logprobs(policy_dir, flat_m, flat_t)
        aggs["policy_logprob"] = lambda i: lps[i]
    for agg, score_of in aggs.items():
        acc = 0
        for i, p in enumerate(probs):
            cand = []
            for j in range(k):
                cand.append((score_of(i * k + j), -j))
            best = max(cand)[1] * -1
            acc += T.check(p, extract_answer(flat_t[i * k + best]))
        res[f"best_of_{k}_{agg}"] = acc / len(probs)
    weighted = 0
    for i, p in enumerate(probs):  # sum of last-step scores per answer (ties: first seen)
        votes: dict = {}
        for j in range(k):
            a = _norm(extract_answer(flat_t[i * k + j]))
            if a:  # a sample with no answer has none to vote for (as in majority)
                votes[a] = votes.get(a, 0.0) + aggs["last"](i * k + j)
        weighted += bool(votes) and T.check(p, max(votes, key=votes.get))
    res[f"weighted_{k}_last"] = weighted / len(probs)
    maj = sum(T.check(p, majority([_norm(extract_answer(s)) for s in ss]))
              for p, ss in zip(probs, d["samples"]))
    res[f"maj@{k}"] = maj / len(probs)
    return res


def probe_prm(prm_dir, n: int = 300, seed: int = 999, drills: int = 300) -> dict:
    """Does the PRM check a step's arithmetic?  ``slip_pairs``: ``arith`` problems, each as a
    right trace and the same chain with one near-miss result carried on (``slip``); AUROC of
    the first wrong step's score against the same step's score in the right trace (pairs
    whose wrong step is not the last).  ``last_tag``: AUROC of the last tag over all those
    traces.  ``drill_tags`` / ``drill_digits``: AUROC on fresh drills (``prm_data``) at the
    tags (each step judged alone) and at the result digits."""
    import torch

    from .prm_data import drill_items
    from .tasks import arith

    check_prm_dir(prm_dir, "--prm")
    if n < 1 or drills < 1:
        raise _lab_error(f"--n must be at least 1 (problems), got {n}" if n < 1 else
                         f"drills must be at least 1, got {drills}")
    rng = random.Random(0)
    msgs, texts, labels = [], [], []
    for p in arith.generate(n, seed=seed):
        for style in ("full", "slip"):
            t = arith.trace(p, rng, style)
            msgs.append(prompt_messages(p.question))
            texts.append(t)
            labels.append(arith.step_labels(p, t))
    model, tok = load_model(prm_dir)
    scores = prm_step_scores(prm_dir, msgs, texts, loaded=(model, tok))
    pair_s, pair_y = [], []
    for k in range(0, len(texts), 2):
        bad = labels[k + 1]
        if False in bad and bad.index(False) < len(bad) - 1:
            j = bad.index(False)
            pair_s += [scores[k][j], scores[k + 1][j]]
            pair_y += [True, False]
    res = {"slip_pairs": len(pair_y) // 2, "slip_pair_auroc": auroc(pair_s, pair_y),
           "last_tag_auroc": auroc([s[-1] for s in scores], [y[-1] for y in labels])}
    spec = json.loads((Path(prm_dir) / "ponder_prm.json").read_text())
    tag = tok.convert_tokens_to_ids(spec["step_tag"])
    good, bad = (tok.convert_tokens_to_ids(spec[k]) for k in ("good_token", "bad_token"))
    got = {True: ([], []), False: ([], [])}  # is a tag -> (scores, labels)
    for ids, pos, ys, _ in drill_items(tok, drills, seed=12345):
        with torch.no_grad():
            probs = model(torch.tensor([ids])).logits[0][:, [good, bad]].float().softmax(-1)[:, 0]
        for q, y in zip(pos, ys):
            got[ids[q] == tag][0].append(float(probs[q]))
            got[ids[q] == tag][1].append(y)
    res["drill_tag_auroc"] = auroc(*got[True])
    res["drill_digit_auroc"] = auroc(*got[False])
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ponder.lab.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("policy")
    a.add_argument("--model", required=True)
    a.add_argument("--task", default="arith")
    a.add_argument("--n", type=int, default=300)
    a.add_argument("--k", type=int, default=16)
    a.add_argument("--seed", type=int, default=12345)
    a.add_argument("--difficulty", type=int, default=None)
    a.add_argument("--temperature", type=float, default=1.0)
    a.add_argument("--prompt", default="plain", choices=["plain", "cot", "draft"])
    a.add_argument("--samples-out", default=None)
    b = sub.add_parser("prm")
    b.add_argument("--prm", required=True)
    b.add_argument("--samples", required=True)
    b.add_argument("--policy", default=None, help="also best-of-k by this policy's mean token log-probability")
    pr = sub.add_parser("probe", help="does the PRM check a step's arithmetic (probe_prm)")
    pr.add_argument("--prm", required=True)
    pr.add_argument("--n", type=int, default=300)
    c = sub.add_parser("budget")
    c.add_argument("--model", required=True)
    c.add_argument("--n", type=int, default=300)
    c.add_argument("--k", type=int, default=4)
    c.add_argument("--temperature", type=float, default=1.0)
    c.add_argument("--waits", type=int, default=1)
    args = ap.parse_args(argv)
    from ..errors import PonderError
    from ..types import finite

    try:  # what was given is checked before any work: a bad value is one line and exit 2
        if args.what == "policy":
            if args.samples_out and not Path(args.samples_out).expanduser().parent.is_dir():
                raise _lab_error(f"--samples-out {args.samples_out!r}: its directory does not exist; give a "
                                 "file in an existing directory")
            res = evaluate_policy(args.model, args.task, args.n, args.k, args.seed, args.difficulty,
                                  args.temperature, args.prompt, args.samples_out)
        elif args.what == "prm":
            res = evaluate_prm(args.prm, args.samples, args.policy)
        elif args.what == "probe":
            res = probe_prm(args.prm, n=args.n)
        else:
            res = budget_forcing(args.model, n=args.n, k=args.k, temperature=args.temperature,
                                 waits=args.waits)
    except PonderError as exc:
        ap.exit(2, f"error: {exc}\n")
    print(json.dumps(finite(res), indent=2, allow_nan=False))  # an AUROC without both classes: null


if __name__ == "__main__":
    random.seed(0)
    main()
