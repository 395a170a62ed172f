"""A few training steps with a tiny config produce checkpoints that load."""

import json

import pytest

torch = pytest.importorskip("torch")

from ponder.lab import POLICY_DIR  # noqa: E402


def test_tiny_policy_and_prm_training(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.lab.train import train_policy, train_prm

    out = tmp_path / "policy"
    arch = {"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "max_len": 512}
    res = train_policy(out, steps=3, batch_size=4, n_examples=16, arch=arch, warmup=1,
                       tokenizer_dir=POLICY_DIR, log_every=1)
    assert res["steps"] == 3 and res["params"] > 0
    model = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(out))
    assert model.config.hidden_size == 32
    ids = tok.apply_chat_template([{"role": "user", "content": "Compute left to right: 1+2"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    gen = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert gen.shape[1] == ids["input_ids"].shape[1] + 3 or tok.eos_token_id in gen[0].tolist()

    prm_out = tmp_path / "prm"
    train_prm(prm_out, out, steps=2, batch_size=4, n_onpolicy=0, n_synthetic=16, warmup=1, lm_weight=0.5)
    spec = json.loads((prm_out / "ponder_prm.json").read_text())
    assert spec["format"] == "step-tag"
    prm = AutoModelForCausalLM.from_pretrained(str(prm_out), dtype=torch.float32)
    assert prm.config.hidden_size == 32


def test_recipe_runs_its_stages_in_order_and_can_start_late(monkeypatch):
    from ponder.lab import recipe, train

    calls = []
    monkeypatch.setattr(train, "train_prm", lambda out, **kw: calls.append((out, kw)) or {"out": out})
    assert recipe.run_prm("FINAL", "POLICY", seed=10) == {"out": "FINAL"}
    (first, kw1), (last, kw2) = calls
    assert kw1["init_from"] is None and kw2["init_from"] == first and last == "FINAL"
    assert kw1["policy_dir"] == kw2["policy_dir"] == "POLICY" and (kw1["seed"], kw2["seed"]) == (10, 11)
    calls.clear()
    monkeypatch.setattr(train, "train_policy", lambda out, **kw: calls.append((out, kw)) or {"out": out})
    recipe.run_policy("OUT", start_stage=len(recipe.POLICY_STAGES), init_from="PREV", steps=5)
    assert calls == [("OUT", {**recipe.POLICY_STAGES[-1], "init_from": "PREV", "steps": 5})]
    with pytest.raises(ValueError, match="stages 1-"):
        recipe.run_policy("OUT", start_stage=len(recipe.POLICY_STAGES) + 1)
