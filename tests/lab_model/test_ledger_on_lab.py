"""Every strategy's ledger on the shipped lab models holds what the models were seen to spend.

The beam search has its own test (test_search_on_lab.py); here the other strategies that call
a model in several steps or rounds, or call a second model, are run once each and their ledgers
set against the calls and tokens counted at the policy's backend and at the PRM's.
"""

from __future__ import annotations

import pytest

from lab_fixtures import CountingBackend, lab_engine, problems, run_all  # noqa: F401  (fixture)

SPECS = [
    "asc(max_n=8)",
    "wbon(n=4, of=cod)",
    "bon(n=3, scorer=judge)",
    "bon(n=4, scorer=orm)",
    "budget(think=64, wait=2)",
    "sc(n=3, of=budget(think=48, wait=1))",
    "tip(alpha=3)",
    "refine(rounds=2)",
    "feedback_edit",
    "dvts(n=4, width=2, max_steps=6)",
    "mcts(iterations=4, children=2)",
    "tot(breadth=2, proposals=2, depth=2)",
    "backtrack(n=4)",
]


@pytest.fixture(scope="module")
def prm_reads():
    """The token counts of the PRM's forward passes, as the PRM's backend is asked for them."""
    from ponder.backends import load_backend

    prm_backend = load_backend("embedded-prm")  # the instance the prm and orm scorers load
    reads: list[int] = []
    real = {name: getattr(prm_backend, name) for name in ("forward_tail", "forward_logits")}
    for name, fn in real.items():
        async def counted(ids, *args, _fn=fn, **kw):
            reads.append(len(ids))
            return await _fn(ids, *args, **kw)

        setattr(prm_backend, name, counted)
    yield reads
    for name, fn in real.items():
        setattr(prm_backend, name, fn)


@pytest.mark.parametrize("spec", SPECS)
def test_the_ledger_holds_every_call_and_token_the_models_spent(spec, lab_engine, prm_reads):
    from ponder import Engine

    policy = CountingBackend(lab_engine.backend)
    prm_reads.clear()
    engine = Engine(policy, max_concurrency=lab_engine.max_concurrency)
    [r] = run_all(engine, spec, problems("arith", 1, seed=3))
    roles = r.ledger.by_role()
    scored = [roles[k] for k in ("prm", "orm") if k in roles]  # the PRM's forwards, under the scorer's role
    generated = [v for k, v in roles.items() if k not in ("prm", "orm")]  # policy, judge, critic, editor...
    assert policy.calls >= 1 and generated and bool(scored) == bool(prm_reads)
    assert (sum(v.calls for v in generated), sum(v.prompt_tokens for v in generated),
            sum(v.completion_tokens for v in generated)) == (policy.calls, policy.prompt_tokens,
                                                             policy.completion_tokens), roles
    assert (sum(v.calls for v in scored), sum(v.prompt_tokens for v in scored),
            sum(v.completion_tokens for v in scored)) == (len(prm_reads), sum(prm_reads), 0), roles
    assert r.ledger.calls == policy.calls + len(prm_reads)
    assert r.ledger.completion_tokens == policy.completion_tokens
