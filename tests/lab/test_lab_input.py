"""What the lab's commands are given is checked before any work: ``ponder lab train`` /
``quick-eval``, ``python -m ponder.lab.recipe`` and ``python -m ponder.lab.evaluate`` answer bad
input with one line and exit 2, and never train into (or over) what they should not."""

import json

import pytest

torch = pytest.importorskip("torch")

from ponder.lab import POLICY_DIR, PRM_DIR  # noqa: E402

from .lab_commands import TINY_ARCH, assert_one_line_error, lab  # noqa: E402


def module_main(capsys, main, *args: str) -> tuple[int, str, str]:
    """Run a module's ``main(argv)`` (``python -m ...``): (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def no_work(*_a, **_k):
    raise AssertionError("the work started before the input was checked")


def strict_json(text: str):
    """JSON as other programs read it: NaN and Infinity are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def no_training(monkeypatch):
    from ponder.lab import recipe, train

    for mod, name in ((train, "train_policy"), (train, "train_prm"), (recipe, "run_prm"), (recipe, "run_policy")):
        monkeypatch.setattr(mod, name, no_work)


# --- ponder lab train ---------------------------------------------------------------------------

def test_train_refuses_an_empty_out(tmp_path, capsys, monkeypatch, no_training):
    """--out '' trained into the current directory (Path('') is '.')."""
    monkeypatch.chdir(tmp_path)
    for kind in ("policy", "prm"):
        code, out, err = lab(capsys, "train", "--kind", kind, "--steps", "1", "--out", "")
        assert_one_line_error(code, err, "--out is empty")
    assert list(tmp_path.iterdir()) == []


def test_train_refuses_an_out_holding_files_it_did_not_write(tmp_path, capsys, no_training):
    """A non-empty --out was reused: its files stayed beside the new model, or were overwritten."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine")
    foreign_model = tmp_path / "hf"  # a model's files, but no lab training wrote them
    foreign_model.mkdir()
    (foreign_model / "config.json").write_text("{}")
    for out, needle in [(notes, "files a lab training does not write (notes.txt)"),
                        (foreign_model, "no lab_training.json")]:
        code, _, err = lab(capsys, "train", "--task", "arith", "--steps", "1", "--out", str(out))
        assert_one_line_error(code, err, needle)
        assert "nothing was deleted" in err
    assert (notes / "notes.txt").read_text() == "mine" and (foreign_model / "config.json").read_text() == "{}"


def test_a_policy_trained_into_an_old_prm_dir_is_not_read_as_a_prm(tmp_path):
    """A policy trained into a PRM's directory kept its ponder_prm.json and then read as a PRM."""
    from ponder.lab.train import train_policy

    old = tmp_path / "old_prm"
    old.mkdir()
    for name in ("ponder_prm.json", "lab_training.json"):
        (old / name).write_text((PRM_DIR / name).read_text())
    train_policy(old, steps=1, batch_size=2, n_examples=4, arch=TINY_ARCH, warmup=1, tokenizer_dir=POLICY_DIR)
    assert not (old / "ponder_prm.json").exists()
    assert json.loads((old / "lab_training.json").read_text())["kind"] == "policy"


def test_train_prm_refuses_a_prm_as_its_policy(tmp_path, capsys, no_training):
    """--kind prm --policy <a PRM> started the PRM's training from the PRM."""
    code, out, err = lab(capsys, "train", "--kind", "prm", "--policy", str(PRM_DIR), "--steps", "1",
                         "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, "is a process reward model")
    assert "--policy" in err and not (tmp_path / "out").exists()


# --- python -m ponder.lab.recipe ----------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["policy", "--out", "FILE"], "is a file"),
    (["policy", "--out", "OUT", "--steps", "0"], "--steps must be at least 1"),
    (["policy", "--out", "OUT", "--steps", "-5"], "--steps must be at least 1"),
    (["prm", "--out", "OUT", "--policy", str(PRM_DIR)], "is a process reward model"),
    (["prm", "--out", "OUT", "--policy", "MISSING"], "is not a model directory"),
    (["policy", "--out", "OUT", "--start-stage", "2", "--init", "MISSING"], "--init"),
    (["policy", "--out", "OUT", "--start-stage", "2", "--init", str(PRM_DIR)], "is a process reward model"),
    (["prm", "--out", "OUT", "--policy", str(POLICY_DIR), "--start-stage", "2", "--init", str(POLICY_DIR)],
     "no ponder_prm.json"),
])
def test_recipe_checks_what_it_was_given_before_the_first_stage(tmp_path, capsys, no_training, args, needle):
    """The recipe validated nothing: --out a file failed after every stage, --steps 0 wrote a NaN
    loss, a bad --policy or --init was a traceback."""
    from ponder.lab.recipe import main

    (tmp_path / "FILE").write_text("")
    args = [str(tmp_path / a) if a in ("FILE", "OUT", "MISSING") else a for a in args]
    code, out, err = module_main(capsys, main, *args)
    assert_one_line_error(code, err, needle)
    assert out == "" and not (tmp_path / "OUT").exists()


# --- ponder lab quick-eval ----------------------------------------------------------------------

def test_quick_eval_refuses_a_prm_as_the_model(capsys, monkeypatch):
    """--model <a PRM dir> was sampled as a policy (ponder lab eval refuses it)."""
    from ponder.lab import evaluate

    monkeypatch.setattr(evaluate, "evaluate_policy", no_work)
    code, out, err = lab(capsys, "quick-eval", "--n", "2", "--k", "2", "--model", str(PRM_DIR))
    assert_one_line_error(code, err, "is a process reward model")
    assert "--model" in err


def test_quick_eval_and_evaluate_write_null_not_nan(tmp_path, capsys, monkeypatch):
    """An AUROC without both classes (NaN) was printed as NaN: not JSON."""
    from ponder.lab import evaluate

    monkeypatch.setattr(evaluate, "evaluate_policy", lambda *a, **k: {"greedy": 1.0})
    monkeypatch.setattr(evaluate, "evaluate_prm", lambda *a, **k: {"step_auroc": float("nan"), "n": 1})
    code, out, err = lab(capsys, "quick-eval", "--n", "1", "--k", "1", "--prm", str(PRM_DIR))
    assert code == 0, err
    assert strict_json(out)["prm"] == {"step_auroc": None, "n": 1}
    code, out, err = module_main(capsys, evaluate.main, "prm", "--prm", str(PRM_DIR), "--samples", "unused")
    assert code == 0, err
    assert strict_json(out) == {"step_auroc": None, "n": 1}


# --- python -m ponder.lab.evaluate --------------------------------------------------------------

def _samples_file(tmp_path, samples: list[str]):
    import dataclasses

    from ponder.lab.tasks import LabProblem

    steps = [["-", 227], ["-", 134], ["*", 4], ["+", 24]]
    p = LabProblem("t", "Compute left to right: 567-227-134*4+24", "848",
                   {"task": "arith", "start": 567, "steps": steps, "values": [340, 206, 824, 848], "difficulty": 4})
    path = tmp_path / "samples.json"
    path.write_text(json.dumps({"task": "arith", "seed": 0, "difficulty": None, "prompt": "plain",
                                "problems": ["t"], "samples": [samples],
                                "problem_data": [dataclasses.asdict(p)]}))
    return path


POLICY = ["policy", "--model", str(POLICY_DIR), "--n", "2", "--k", "2"]


@pytest.mark.parametrize("args, needle", [
    (POLICY + ["--task", "nope"], "--task 'nope' is not a lab task"),
    (POLICY + ["--n", "0"], "--n and --k must be at least 1"),
    (POLICY + ["--k", "0"], "--n and --k must be at least 1"),
    (POLICY + ["--temperature", "-1"], "--temperature must be a finite number"),
    (POLICY + ["--temperature", "nan"], "--temperature must be a finite number"),
    (POLICY + ["--difficulty", "0"], "must be from 1 to 50"),
    (POLICY + ["--task", "countdown", "--difficulty", "9"], "must be from 2 to 6"),
    (POLICY + ["--model", "NOTAMODEL"], "is not a model directory"),
    (POLICY + ["--model", str(PRM_DIR)], "is a process reward model"),
    (["prm", "--prm", str(POLICY_DIR), "--samples", "SAMPLES"], "no ponder_prm.json"),
    (["prm", "--prm", str(PRM_DIR), "--samples", "MISSING"], "cannot be read"),
    (["prm", "--prm", str(PRM_DIR), "--samples", "NOTJSON"], "is not JSON"),
    (["prm", "--prm", str(PRM_DIR), "--samples", "NOTSAMPLES"], "is not a samples file"),
    (["probe", "--prm", str(POLICY_DIR)], "no ponder_prm.json"),
    (["budget", "--model", str(POLICY_DIR), "--temperature", "0"], "--temperature must be a finite number > 0"),
])
def test_evaluate_answers_bad_input_with_one_line(tmp_path, capsys, monkeypatch, args, needle):
    """Each of these was a traceback (KeyError, ZeroDivisionError, IndexError, FileNotFoundError, ...),
    or, for a PRM as the policy, a run that reported 0 %."""
    from ponder.lab import evaluate

    monkeypatch.setattr(evaluate, "load_model", no_work)
    files = {"SAMPLES": _samples_file(tmp_path, ["Answer: 848"]), "MISSING": tmp_path / "missing.json",
             "NOTJSON": tmp_path / "notes.txt", "NOTSAMPLES": tmp_path / "other.json", "NOTAMODEL": tmp_path}
    (tmp_path / "notes.txt").write_text("not json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    args = [str(files[a]) if a in files else a for a in args]
    code, out, err = module_main(capsys, evaluate.main, *args)
    assert_one_line_error(code, err, needle)
    assert out == ""


def test_weighted_vote_leaves_out_samples_without_an_answer(tmp_path, monkeypatch):
    """weighted_k_last let unanswered samples vote: their None group (two high scores) beat the
    one right answer."""
    from ponder.lab import evaluate

    samples = ["<think> 567-227=340; 340-134=206; 206*4=824;", "<think> 567-227=340; 340-134=206;",
               "<think> 567-227=340; 340-134=206; 206*4=824; 824+24=848 </think> Answer: 848"]
    monkeypatch.setattr(evaluate, "prm_step_scores", lambda *a, **k: [[0.96], [0.99], [0.83]])
    res = evaluate.evaluate_prm(PRM_DIR, str(_samples_file(tmp_path, samples)))
    assert res["weighted_3_last"] == 1.0 and res["maj@3"] == 1.0
