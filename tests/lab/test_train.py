"""A few training steps with a tiny config produce checkpoints that load."""

import json
import re

import pytest

torch = pytest.importorskip("torch")

from ponder.lab import POLICY_DIR  # noqa: E402

from .lab_commands import TINY_ARCH, assert_one_line_error, lab  # noqa: E402


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
    res = train_prm(prm_out, out, steps=2, batch_size=4, n_onpolicy=0, n_synthetic=16, warmup=1,
                    lm_weight=0.5, n_drill=8, extra_layers=1, digit_labels=True,
                    task_mix={"countdown": 1.0})
    assert res["sequences"] >= 16 + 8 and res["layers"] == 2 and res["task_mix"] == {"countdown": 1.0}
    spec = json.loads((prm_out / "ponder_prm.json").read_text())
    assert spec["format"] == "step-tag"
    prm = AutoModelForCausalLM.from_pretrained(str(prm_out), dtype=torch.float32)
    assert prm.config.hidden_size == 32 and prm.config.num_hidden_layers == 2


def test_a_few_policy_training_steps_lower_the_loss_on_the_training_examples(tmp_path):
    """Training learns: the exported checkpoint's loss on the examples it was trained on is well
    below that of the model it started from (the same fresh model: ``make_model`` with the seed)."""
    from transformers import AutoModelForCausalLM

    from ponder.lab.data import DEFAULT_MIX, build_examples, encode_examples
    from ponder.lab.tokenizer import load_tokenizer
    from ponder.lab.train import make_model, policy_loss, train_policy

    arch = {"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "max_len": 512}
    res = train_policy(tmp_path / "p", steps=8, batch_size=4, n_examples=16, arch=arch, warmup=1,
                       tokenizer_dir=POLICY_DIR, seed=0)
    assert res["data_seed"] == 1
    tok = load_tokenizer(POLICY_DIR)
    data = encode_examples(tok, build_examples(16, seed=1, mix=DEFAULT_MIX), max_len=512)
    every = list(range(len(data)))
    start = make_model(tok, seed=0, **arch).eval()
    trained = AutoModelForCausalLM.from_pretrained(str(tmp_path / "p"), dtype=torch.float32).eval()
    with torch.no_grad():
        before = policy_loss(start, data, every, tok.pad_token_id).item()
        after = policy_loss(trained, data, every, tok.pad_token_id).item()
    assert before > 6  # about ln(vocabulary): the fresh model knows nothing
    assert after < before - 0.25, (before, after)  # 6.23 -> 5.73 when written


def test_deepen_adds_layers_that_start_as_the_identity():
    from transformers import AutoModelForCausalLM

    from ponder.lab.train import deepen

    model = AutoModelForCausalLM.from_pretrained(str(POLICY_DIR), dtype=torch.float32).eval()
    deeper = deepen(model, 2).eval()
    assert deeper.config.num_hidden_layers == model.config.num_hidden_layers + 2
    x = torch.randint(3, 400, (2, 24))
    with torch.no_grad():
        assert torch.allclose(model(x).logits, deeper(x).logits)
    assert deepen(model, 0) is model


def test_drill_labels_every_step_and_result_digit():
    """The PRM drill: unrelated steps, each tag labelled by its own equation, each result
    digit by whether the result is right so far (``written_results`` does the same for traces)."""
    from transformers import AutoTokenizer

    from ponder.lab.prm_data import drill_items, result_digit_labels, written_results

    tok = AutoTokenizer.from_pretrained(str(POLICY_DIR))
    items = drill_items(tok, 50, seed=1)
    tag = tok.convert_tokens_to_ids("<step>")
    tag_labels = []
    for ids, pos, labels, _ in items:
        tags = [y for p, y in zip(pos, labels) if ids[p] == tag]
        body = tok.decode(ids).split("<think> ")[1].split(" </think>")[0].replace("<step>", "")
        eqs = re.findall(r"(\d+)([-+*])(\d+)=(\d+)", body)
        assert len(tags) == len(eqs) == 8
        for (a, op, b, c), y in zip(eqs, tags):
            right = {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op]
            assert y == (right == int(c)), (a, op, b, c, y)
        tag_labels += tags
    assert 0.35 < sum(tag_labels) / len(tag_labels) < 0.65  # right and near-miss steps, about half each
    text = "<think> 340-134=216; 216*4=864 </think> Answer: 864"
    assert written_results(text) == [("216", "206"), ("864", "864")]
    ids = tok.encode(text, add_special_tokens=False)
    pos, labels = result_digit_labels(tok, ids, written_results(text))
    assert [tok.decode([ids[p]]) for p in pos] == list("216864")
    assert labels == [True, False, False, True, True, True]


def test_operand_labels_compare_each_step_with_the_question():
    """``chain_token_labels``: operands and operators are labelled by whether the chain of the
    question continues that way, answer digits by the right answer; only arith traces get them."""
    from transformers import AutoTokenizer

    from ponder.lab.prm_data import chain_token_labels, labelled
    from ponder.lab.tasks import arith, countdown

    tok = AutoTokenizer.from_pretrained(str(POLICY_DIR))
    [p] = [q for q in arith.generate(40, seed=3) if q.meta["difficulty"] == 2][:1]
    (op1, b1), (op2, b2) = p.meta["steps"]
    v1, v2 = p.meta["values"]
    msgs = [{"role": "user", "content": p.question}]
    wrong_b2 = b2 * 10 + 7  # an extra digit, as the policy misreads
    text = (f"<think> {p.meta['start']}{op1}{b1}={v1}; {v1}{op2}{wrong_b2}=0 </think> Answer: {v2}")
    ids, pos, labels, start = labelled(tok, p, msgs, text, operand_labels=True)
    opos, olab = chain_token_labels(tok, ids, p, start)
    assert opos == pos[-len(opos):] and olab == labels[-len(olab):]
    read = "".join(tok.decode([ids[i]]) for i in opos)
    first = f"{p.meta['start']}{op1}{b1}"
    assert read == first + f"{v1}{op2}{wrong_b2}" + str(v2)
    assert all(olab[:len(first)])
    second = olab[len(first):len(first) + len(f"{v1}{op2}{wrong_b2}")]
    assert second == [True] * len(f"{v1}{op2}{b2}") + [False]
    assert all(olab[-len(str(v2)):])
    cd = countdown.generate(3, seed=1)[0]
    cd_msgs = [{"role": "user", "content": cd.question}]
    cd_text = countdown.trace(cd, __import__("random").Random(0))
    plain = labelled(tok, cd, cd_msgs, cd_text)
    assert labelled(tok, cd, cd_msgs, cd_text, operand_labels=("arith",)) == plain  # named tasks only
    assert labelled(tok, cd, cd_msgs, cd_text, operand_labels=True) != plain
    assert labelled(tok, p, msgs, text, operand_labels=("countdown",)) == labelled(tok, p, msgs, text)


@pytest.mark.parametrize("text, marks", [
    # 6 is used twice: the second 6 is wrong, and nothing after it in that attempt is labelled
    ("<think> 11-6=5; 6+5=11 Wait, 11-8=3; 6-3=3 </think> Answer: 6-(11-8)", "+++-" "+++++" "++++"),
    # <backtrack> retracts 6+3=9: 3 and 6 are available again
    ("<think> 11-8=3; 6+3=9 <backtrack> 6-3=3 </think> Answer: 6-11-8", "+++" "++" "++" "++++"),
    # the answer uses 8 twice; the result 5 of the first step is available to the second
    ("<think> 11-6=5; 8+5=13 </think> Answer: 11-6+8+8", "+++" "++" "+++" "+-"),
    # "Waiting" is not the restart word: 11 was used, so the attempt breaks at it
    ("<think> 11-6=5; Waiting 11-8=3 </think>", "+++" "--"),
    # the tail of a longer expression (6-5=1 in 11-6-5=1... read whole) is not a step of its own
    ("<think> 11-6=5; 8+6-5=9 </think>", "+++"),
])
def test_countdown_operand_labels_say_whether_each_number_is_still_available(text, marks):
    """``available_token_labels``: each operand digit of a countdown trace (and each number of
    its answer) is good iff the number so far is still available in the current attempt."""
    from transformers import AutoTokenizer

    from ponder.lab.prm_data import available_token_labels, labelled
    from ponder.lab.tasks import countdown

    tok = AutoTokenizer.from_pretrained(str(POLICY_DIR))
    p = countdown.problem_from_numbers([6, 8, 11], 3)
    msgs = [{"role": "user", "content": p.question}]
    ids, pos, labels, start = labelled(tok, p, msgs, text, operand_labels=("countdown",))
    opos, olab = available_token_labels(tok, ids, p, start)
    assert opos == pos[-len(opos):] and olab == labels[-len(olab):]
    assert all(tok.decode([ids[i]]).isdigit() for i in opos)
    assert "".join("+" if y else "-" for y in olab) == marks


def test_recipe_runs_its_stages_in_order_and_can_start_late(monkeypatch):
    from ponder.lab import recipe, train

    calls = []
    monkeypatch.setattr(train, "train_prm", lambda out, **kw: calls.append((out, kw)) or {"out": out})
    assert recipe.run_prm("FINAL", "POLICY", seed=10) == {"out": "FINAL"}
    assert len(calls) == len(recipe.PRM_STAGES) >= 2 and calls[-1][0] == "FINAL"
    assert calls[0][1]["init_from"] is None
    for k, (out, kw) in enumerate(calls):
        assert kw["policy_dir"] == "POLICY" and kw["seed"] == 10 + k
        if k:
            assert kw["init_from"] == calls[k - 1][0]
    calls.clear()
    monkeypatch.setattr(train, "train_policy", lambda out, **kw: calls.append((out, kw)) or {"out": out})
    recipe.run_policy("OUT", start_stage=len(recipe.POLICY_STAGES), init_from="PREV", steps=5)
    assert calls == [("OUT", {**recipe.POLICY_STAGES[-1], "init_from": "PREV", "steps": 5})]
    with pytest.raises(ValueError, match="stages 1-"):
        recipe.run_policy("OUT", start_stage=len(recipe.POLICY_STAGES) + 1)


# --- the `ponder lab` commands: what was given is checked before any work -------------------------

def no_work(*_a, **_k):
    raise AssertionError("the work started before the input was checked")


@pytest.fixture()
def no_training(monkeypatch):
    from ponder.lab import recipe, train

    monkeypatch.setattr(train, "train_policy", no_work)
    monkeypatch.setattr(train, "train_prm", no_work)
    monkeypatch.setattr(recipe, "run_prm", no_work)


@pytest.mark.parametrize("where, needle", [("file", "is a file; give a directory"),
                                           ("file/sub", "cannot be written")])
def test_train_refuses_an_out_it_cannot_write_before_training(tmp_path, capsys, no_training, where, needle):
    """--out was made only when exporting: a bad one cost the whole run and ended as an internal error."""
    (tmp_path / "file").write_text("not a directory")
    for kind, task in (("policy", ["--task", "arith"]), ("prm", [])):
        code, out, err = lab(capsys, "train", "--kind", kind, *task, "--steps", "1",
                             "--out", str(tmp_path / where))
        assert_one_line_error(code, err, needle)
        assert out == ""


@pytest.mark.parametrize("args, needle", [
    (["--kind", "prm", "--task", "arith"], "--task applies to --kind policy only"),
    (["--kind", "prm", "--task", "mix"], "--task applies to --kind policy only"),
    (["--kind", "policy", "--policy", str(POLICY_DIR)], "--policy applies to --kind prm only"),
    (["--policy", str(POLICY_DIR)], "--policy applies to --kind prm only"),
])
def test_train_refuses_an_option_its_kind_does_not_use(tmp_path, capsys, no_training, args, needle):
    """--task with --kind prm (its task mix is the recipe's) and --policy with --kind policy were
    ignored without a word."""
    code, out, err = lab(capsys, "train", *args, "--steps", "1", "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, needle)
    assert out == "" and not (tmp_path / "out").exists()  # refused before any work


def test_train_policy_checks_its_out_dir_first(tmp_path, monkeypatch):
    from ponder.errors import PonderError
    from ponder.lab import data, train

    monkeypatch.setattr(data, "build_examples", no_work)
    (tmp_path / "file").write_text("")
    with pytest.raises(PonderError, match="is a file"):
        train.train_policy(tmp_path / "file", steps=1, arch=TINY_ARCH, tokenizer_dir=POLICY_DIR)


def _copy_policy(dst, names):
    import shutil

    dst.mkdir()
    for name in names:
        shutil.copy(POLICY_DIR / name, dst / name)
    return dst


def test_train_prm_refuses_a_policy_that_does_not_load_before_any_work(tmp_path, capsys, no_training,
                                                                       tiny_model_dir):
    """--policy was checked for config.json only: a directory without tokenizer or weights failed
    later, as an internal error."""
    cases = [
        (_copy_policy(tmp_path / "config_only", ["config.json"]), "has no weights"),
        (_copy_policy(tmp_path / "no_tokenizer", ["config.json", "model.safetensors"]),
         "cannot load the tokenizer"),
        (tiny_model_dir, "is not a lab policy"),  # loads, but its tokenizer is not the lab's
        (tmp_path / "missing", "is not a model directory"),
    ]
    for policy, needle in cases:
        code, out, err = lab(capsys, "train", "--kind", "prm", "--policy", str(policy), "--steps", "1",
                             "--out", str(tmp_path / "out"))
        assert_one_line_error(code, err, needle)
        assert "--policy" in err
    assert not (tmp_path / "out").exists()  # nothing was made for a command refused


def test_quick_eval_checks_the_prm_before_sampling(tmp_path, capsys, monkeypatch):
    """--prm was read only after all the policy's sampling."""
    from ponder.lab import evaluate

    monkeypatch.setattr(evaluate, "evaluate_policy", no_work)
    for prm, needle in [(POLICY_DIR, "no ponder_prm.json"), (tmp_path / "missing", "is not a model directory"),
                        (tmp_path, "is not a model directory (no config.json)")]:
        code, out, err = lab(capsys, "quick-eval", "--n", "2", "--k", "2", "--prm", str(prm))
        assert_one_line_error(code, err, needle)
        assert "--prm" in err


def test_quick_eval_refuses_a_model_dir_that_is_not_a_model(tmp_path, capsys):
    """A missing or non-model --model was an internal error with a misleading Hugging Face message."""
    for model, needle in [(tmp_path / "missing", "is not a model directory: it does not exist"),
                          (tmp_path, "is not a model directory (no config.json)"),
                          (_copy_policy(tmp_path / "no_tokenizer", ["config.json", "model.safetensors"]),
                           "cannot load the tokenizer")]:
        code, out, err = lab(capsys, "quick-eval", "--n", "2", "--k", "2", "--model", str(model))
        assert_one_line_error(code, err, needle)
        assert "--model" in err


def test_load_model_says_a_damaged_model_dir_is_the_model_s_fault(tmp_path):
    from ponder.errors import ModelSpecError
    from ponder.lab.evaluate import load_model

    d = _copy_policy(tmp_path / "truncated", [p.name for p in POLICY_DIR.iterdir() if p.is_file()])
    weights = d / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelSpecError, match="cannot load a causal LM"):
        load_model(d)


def test_quick_eval_at_temperature_0_samples_greedily(capsys):
    """--temperature 0 was accepted, then generate refused to sample at 0."""
    code, out, err = lab(capsys, "quick-eval", "--n", "2", "--k", "3", "--temperature", "0")
    assert code == 0, err
    res = json.loads(out)
    assert res["temperature"] == 0 and res["one_sample"] == res["greedy"] == res["maj@3"] == res["any@3"]


def test_train_cli_seed_sets_the_training_data(tmp_path, capsys, monkeypatch):
    """--seed did not change the examples: the recipe's data_seed (fixed) overrode it."""
    from ponder.lab import train
    from ponder.lab.recipe import POLICY_RECIPE

    calls = []
    monkeypatch.setattr(train, "train_policy", lambda out, **kw: calls.append(kw) or {"seed": kw["seed"]})
    for extra in ([], ["--seed", "0"], ["--seed", "5"]):
        code, out, err = lab(capsys, "train", "--task", "arith", "--steps", "1", "--out", str(tmp_path), *extra)
        assert code == 0, err
    default, zero, five = calls
    assert default == {**POLICY_RECIPE, "task": "arith", "steps": 1}  # without --seed: the recipe's
    assert zero["seed"] == 0 and zero["data_seed"] == POLICY_RECIPE["data_seed"]  # the recipe's pair
    assert five["seed"] == 5 and five["data_seed"] == 6


def test_train_logs_to_stderr_and_records_the_data_seed(tmp_path, capsys):
    """Progress lines went to stdout, ahead of `lab train`'s JSON summary; the summary lacked
    the data seed."""
    from ponder.lab.train import train_policy

    res = train_policy(tmp_path / "p", steps=1, batch_size=2, n_examples=4, arch=TINY_ARCH, warmup=1,
                       tokenizer_dir=POLICY_DIR, seed=3)
    out, err = capsys.readouterr()
    assert out == "" and "step 0 loss" in err
    assert res["data_seed"] == 4
    assert json.loads((tmp_path / "p" / "lab_training.json").read_text())["data_seed"] == 4
    res = train_policy(tmp_path / "q", steps=1, batch_size=2, n_examples=4, arch=TINY_ARCH, warmup=1,
                       tokenizer_dir=POLICY_DIR, seed=3, data_seed=9)
    assert res["data_seed"] == 9
