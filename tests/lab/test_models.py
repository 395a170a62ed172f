"""The shipped policy and PRM load offline and behave (small fixed-seed checks)."""

import json
import os

import pytest

torch = pytest.importorskip("torch")

from ponder.lab import POLICY_DIR, PRM_DIR  # noqa: E402
from ponder.lab.tasks import arith, extract_answer  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def offline():
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield
    if old is None:
        os.environ.pop("HF_HUB_OFFLINE", None)
    else:
        os.environ["HF_HUB_OFFLINE"] = old


@pytest.fixture(scope="module")
def policy():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(POLICY_DIR))
    model = AutoModelForCausalLM.from_pretrained(str(POLICY_DIR), dtype=torch.float32).eval()
    return model, tok


def test_files_and_size():
    total = 0
    for d in (POLICY_DIR, PRM_DIR):
        for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
            assert (d / name).exists(), d / name
        total += sum(f.stat().st_size for f in d.iterdir() if f.is_file())
    assert (POLICY_DIR / "generation_config.json").exists()
    assert total < 20 * 2**20
    spec = json.loads((PRM_DIR / "ponder_prm.json").read_text())
    assert spec == {"format": "step-tag", "step_tag": "<step>", "good_token": "+",
                    "bad_token": "-", "step_delimiter": ";"}


def test_policy_generation_config(policy):
    model, tok = policy
    gc = model.generation_config
    assert gc.eos_token_id == tok.eos_token_id and gc.pad_token_id == tok.pad_token_id
    assert gc.bos_token_id == tok.bos_token_id
    assert model.config.vocab_size >= len(tok)


def test_policy_greedy_accuracy(policy):
    from ponder.lab.evaluate import sample

    model, tok = policy
    probs = arith.generate(48, seed=777, difficulty=3)
    msgs = [[{"role": "user", "content": p.question}] for p in probs]
    outs = sample(model, tok, msgs, n=1, greedy=True, max_new_tokens=120)
    texts = [o[0] for o in outs]
    acc = sum(arith.check(p, extract_answer(t)) for p, t in zip(probs, texts)) / len(probs)
    assert all(t.startswith("<think>") and "Answer:" in t for t in texts[:8]), texts[:8]
    assert acc >= 0.5, acc


def test_draft_instruction_shortens(policy):
    from ponder.lab.evaluate import prompt_messages, sample

    model, tok = policy
    probs = arith.generate(16, seed=778, difficulty=4)
    full = [o[0] for o in sample(model, tok, [prompt_messages(p.question, "cot") for p in probs],
                                 greedy=True, max_new_tokens=120)]
    draft = [o[0] for o in sample(model, tok, [prompt_messages(p.question, "draft") for p in probs],
                                  greedy=True, max_new_tokens=120)]
    assert sum(map(len, draft)) < 0.75 * sum(map(len, full))
    assert sum("=" in t.split("</think>")[0] for t in draft) <= 2


def test_prm_ranks_the_policys_own_steps(policy):
    from ponder.lab.evaluate import auroc, prm_step_scores, sample

    model, tok = policy
    probs = arith.generate(40, seed=779)
    msgs = [[{"role": "user", "content": p.question}] for p in probs]
    outs = sample(model, tok, msgs, n=8, temperature=1.0, seed=779, max_new_tokens=160)
    flat = [(p, m, t) for p, m, ts in zip(probs, msgs, outs) for t in ts]
    scores, labels = [], []
    for (p, _, t), sc in zip(flat, prm_step_scores(PRM_DIR, [m for _, m, _ in flat], [t for *_, t in flat])):
        lab = arith.step_labels(p, t)
        if len(sc) != len(lab):
            continue
        assert all(0.0 <= x <= 1.0 for x in sc)
        scores += sc
        labels += lab
    assert len(labels) > 600 and 0 < sum(labels) < len(labels)
    # README: step AUROC 0.916 on 300 x 16 held-out policy samples (0.913 on these 320)
    assert auroc(scores, labels) >= 0.88, auroc(scores, labels)


def test_prm_checks_the_arithmetic_of_a_step():
    """The same trace with one step's result a near miss (carried on to a wrong answer): the
    PRM must score that step lower than the right one. It does so by checking the step (the
    PRM shipped before scored both alike, AUROC 0.50: it judged traces by their shape), and
    it judges drill steps, each on its own, too (``evaluate probe``)."""
    from ponder.lab.evaluate import probe_prm

    res = probe_prm(PRM_DIR, n=100, seed=781, drills=40)
    assert res["slip_pairs"] >= 50
    assert res["slip_pair_auroc"] >= 0.85, res
    assert res["drill_tag_auroc"] >= 0.9, res


def test_prm_evaluation_reports_the_likelihood_baseline(tmp_path):
    """``evaluate prm --policy``: best-of-k by the policy's own likelihood, the baseline a PRM
    must beat. The policy copies its last result into the answer, so its likelihood rejects an
    answer the trace contradicts (the lab PRM, trained on some such answers, picks the right
    trace in 7 of these 12 pairs). Also ``answer_auroc``, the ranking best-of-k lives on."""
    import dataclasses
    import random

    from ponder.lab.evaluate import evaluate_prm

    probs = arith.generate(12, seed=31)
    rng = random.Random(31)
    def contradicted(p):  # a right trace whose answer does not match its own last step
        right = arith.trace(p, rng, "full")
        return right.rsplit("Answer: ", 1)[0] + f"Answer: {(int(p.answer) + 500) % 1000}"

    samples = [[contradicted(p), arith.trace(p, rng, "full")] for p in probs]
    path = tmp_path / "samples.json"
    path.write_text(json.dumps({"task": "arith", "seed": 31, "difficulty": None, "prompt": "plain",
                                "problems": [p.id for p in probs], "samples": samples,
                                "problem_data": [dataclasses.asdict(p) for p in probs]}))
    res = evaluate_prm(PRM_DIR, str(path), POLICY_DIR)
    assert res["n"] == 12 and res["k"] == 2 and res["steps"] > 0
    # the likelihood picks the right trace of all 12 pairs, the PRM of 7 (its last-step scores of
    # the two traces differ by 0.0016 to 0.09: far above rounding)
    assert res["best_of_2_policy_logprob"] == 12 / 12, res
    assert res["best_of_2_last"] == 7 / 12, res
    # each pair's two answers differ, so the vote weighted by the last step's score picks the
    # answer of the trace that scores higher: the same 7
    assert res["weighted_2_last"] == 7 / 12, res
    # the steps before the answer are right in both traces; only the contradicted answers are wrong
    assert res["steps"] == 72 and res["step_auroc"] > 0.75, res  # 0.825 when written
    # answer_auroc: the last step's score against the answer's correctness over all samples. A
    # contradicted answer fools this PRM (about chance); a slip carried to the answer does not.
    assert 0.3 < res["answer_auroc"] < 0.7, res
    slipped = [[arith.trace(p, rng, "slip"), arith.trace(p, rng, "full")] for p in probs]
    path.write_text(json.dumps({**json.loads(path.read_text()), "samples": slipped}))
    res = evaluate_prm(PRM_DIR, str(path))
    assert res["answer_auroc"] >= 0.8 and res["best_of_2_last"] >= 0.75, res
    # every aggregation of the scorer (agg=last/min/prod/mean) is reported; a slipped step pulls
    # its trace's minimum and product down wherever it is
    assert min(res["best_of_2_min"], res["best_of_2_prod"], res["best_of_2_mean"]) >= 0.75, res
