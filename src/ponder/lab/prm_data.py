"""Training data for the step-tag process reward model (Math-Shepherd format).

PRM input = ``render_chat(messages)`` (the prompt with ``add_generation_prompt``)
followed by the assistant text with ``<step>`` inserted after every ``;`` and at
the very end.  The label of each tag is the exact ``step_labels`` of the task:
a step is good iff every step of the current attempt so far is correct (an
attempt restarts at ``Wait,`` / ``Alternatively,``); the last tag is good iff
the final answer is correct.
"""

from __future__ import annotations

import random

from .tokenizer import STEP_TAG

PRM_SPEC = {"format": "step-tag", "step_tag": STEP_TAG, "good_token": "+", "bad_token": "-",
            "step_delimiter": ";"}

# ``vote`` puts slips after ``Wait,`` too: in the other styles every step after ``Wait,``,
# ``Alternatively,`` or ``<backtrack>`` is right, a shortcut the PRM took (it rated wrong
# recomputations after ``Wait,`` highly on the policy's own samples).
SYNTHETIC_STYLES = {"full": 0.2, "slip": 0.3, "verify": 0.06, "vote": 0.18, "switch": 0.1,
                    "backtrack": 0.08, "draft": 0.08}


def labelled(tokenizer, problem, messages, text):
    """``(ids, tag_positions, labels, prompt_len)`` for one trace, or ``None`` if tags and
    segments disagree (``prompt_len``: tokens before the assistant text)."""
    from .tasks import task_of
    from .tokenizer import render_chat
    from .train import prm_example_ids

    labels = task_of(problem).step_labels(problem, text)
    ids, pos = prm_example_ids(tokenizer, messages, text, STEP_TAG)
    if len(pos) != len(labels) or len(ids) > 500:
        return None
    return ids, pos, labels, len(tokenizer.encode(render_chat(messages), add_special_tokens=False))


def synthetic_items(n: int, seed: int):
    """``(problem, messages, text)`` triples rendered from the tasks (with slips)."""
    from .data import PROMPT_STYLES, build_examples

    styles = dict(SYNTHETIC_STYLES)
    styles.pop("draft")
    exs = build_examples(n, seed, trace_styles=styles,
                         prompt_styles={**PROMPT_STYLES, "draft_system": 0.04, "draft_prefix": 0.04})
    return [(e.problem, e.messages, e.text) for e in exs]


def onpolicy_items(policy_dir, n_problems: int, samples_per_problem: int, seed: int,
                   temperature: float = 1.0):
    """Samples of the policy on fresh training problems, as ``(problem, messages, text)``."""
    from .data import make_messages, training_problems
    from .evaluate import load_model, sample

    model, tok = load_model(policy_dir)
    probs = training_problems(n_problems, seed=seed, mix={"arith": 0.8, "countdown": 0.2})
    rng = random.Random(seed)
    msgs = [make_messages(p.question, rng.choices(["plain", "cot_system", "cot_prefix"],
                                                  [0.7, 0.15, 0.15])[0], rng)[0] for p in probs]
    outs = sample(model, tok, msgs, n=samples_per_problem, temperature=temperature, seed=seed)
    return [(p, m, t) for p, m, ts in zip(probs, msgs, outs) for t in ts]


def build_prm_dataset(tokenizer, policy_dir, seed: int = 0, n_onpolicy: int = 1200,
                      samples_per_problem: int = 4, n_synthetic: int = 12000):
    """Labelled PRM sequences: synthetic traces plus on-policy samples."""
    items = synthetic_items(n_synthetic, seed)
    if n_onpolicy:
        items += onpolicy_items(policy_dir, n_onpolicy, samples_per_problem, seed + 1)
    out = []
    for p, m, t in items:
        r = labelled(tokenizer, p, m, t)
        if r is not None:
            out.append(r)
    return out
