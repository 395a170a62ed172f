"""File-backed tasks on the real public datasets, and the wrong file given to a task."""

from __future__ import annotations

import pytest

from ponder.tasks.base import TaskSpecError, load_task


def test_the_shared_datasets_load_with_their_graders(datasets_dir):
    gsm = load_task(f"gsm8k:{datasets_dir / 'gsm8k_test.jsonl'}").problems()
    assert len(gsm) == 1319 and gsm[0].answer == "18" and "Janet" in gsm[0].question
    math = load_task(f"math500:{datasets_dir / 'math500_test.json'}").problems(limit=5)
    assert len(math) == 5 and all(p.answer and p.answer_kind == "math" for p in math)
    g24 = load_task(f"game24:{datasets_dir / 'game24.csv'}").problems()
    assert len(g24) == 1362 and g24[0].question == "Use the numbers 1 1 4 6 to make 24."
    assert g24[0].checker(g24[0].answer) and not g24[0].checker("1+1+4+6")  # checked exactly


@pytest.mark.parametrize("task, file, message", [
    ("math500", "gsm8k_test.jsonl", "record 1 has no field 'problem'; math500 reads 'problem', 'answer' "
                                    "(its fields: 'answer', 'question')"),
    ("gsm8k", "math500_test.json", "math500_test.json:1: not JSON"),
    ("game24", "gsm8k_test.jsonl", "record 1 has no field 'Puzzles'; game24 reads 'Puzzles'"),
])
def test_the_wrong_file_is_a_clear_error(datasets_dir, task, file, message):
    with pytest.raises(TaskSpecError) as err:
        load_task(f"{task}:{datasets_dir / file}").problems()
    assert message in str(err.value)


def test_a_record_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text('[1, 2]\n', encoding="utf-8")
    with pytest.raises(TaskSpecError, match="record 1 is a list, not an object; gsm8k reads 'question', 'answer'"):
        load_task(f"gsm8k:{path}").problems()
    path.write_text('{"q": "1+1", "a": "2"}\n42\n', encoding="utf-8")  # a generic jsonl task: a number
    with pytest.raises(TaskSpecError, match="record 2 is an int, not an object; jsonl reads 'q', 'a' .*"
                                            "name other fields with [?]question="):
        load_task(f"jsonl:{path}?question=q&answer=a").problems()
    bad = tmp_path / "bad.csv"
    bad.write_text("Rank,Puzzles\n1,1 2 3\n", encoding="utf-8")
    with pytest.raises(TaskSpecError, match="Puzzles '1 2 3' is not four numbers"):
        load_task(f"game24:{bad}").problems()



def test_an_empty_field_is_refused_with_its_record(tmp_path):
    """A JSON null answer was the gold answer "None" (a model answering None was right); a CSV row
    that ends before its Puzzles was a TypeError that named no file or record."""
    path = tmp_path / "null.jsonl"
    path.write_text('{"question": "1+1?", "answer": "2"}\n{"question": "a", "answer": null}\n', encoding="utf-8")
    with pytest.raises(TaskSpecError, match=r"null.jsonl: record 2: field 'answer' is empty \(null"):
        load_task(f"jsonl:{path}").problems()
    short = tmp_path / "short.csv"
    short.write_text("Rank,Puzzles,AMT (s)\n1,1 1 4 6,4.4\n2\n", encoding="utf-8")
    with pytest.raises(TaskSpecError, match="short.csv: record 2: field 'Puzzles' is empty"):
        load_task(f"game24:{short}").problems()


def test_repeated_problem_ids_are_refused(tmp_path):
    """Results are stored by problem id: two records of one id would be merged into one row."""
    path = tmp_path / "dup.jsonl"
    rows = ['{"id": "a", "question": "1+1?", "answer": "2"}', '{"id": "a", "question": "2+2?", "answer": "4"}',
            '{"id": "b", "question": "3+3?", "answer": "6"}']
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(TaskSpecError, match="problem ids must be unique; these repeat: 'a' [(]2 times[)]"):
        load_task(f"jsonl:{path}").problems()
    path.write_text("\n".join(r.replace('"id": "a", ', "") for r in rows) + "\n", encoding="utf-8")
    assert [p.id for p in load_task(f"jsonl:{path}").problems()] == ["row-0", "row-1", "b"]


def test_a_gsm8k_record_without_its_answer_line_and_numeric_math500_ids(tmp_path):
    """Before, a gsm8k answer without '#### N' became the whole solution as gold (every answer wrong,
    no error), and math500 ids 7 and '7' were two ids until stored as text."""
    path = tmp_path / "gsm.jsonl"
    path.write_text('{"question": "1+1?", "answer": "1+1=2\\n#### 2"}\n{"question": "2+2?", "answer": "it is 4"}\n',
                    encoding="utf-8")
    with pytest.raises(TaskSpecError, match="record 2: its answer has no '#### <number>' line"):
        load_task(f"gsm8k:{path}").problems()
    math = tmp_path / "math.jsonl"
    math.write_text('{"problem": "1+1?", "answer": "2", "unique_id": 7}\n'
                    '{"problem": "2+2?", "answer": "4", "unique_id": "7"}\n', encoding="utf-8")
    with pytest.raises(TaskSpecError, match="these repeat: '7'"):
        load_task(f"math500:{math}").problems()


def test_a_lab_task_of_n_problems_gives_at_most_n():
    assert len(load_task("arith?n=10").problems(limit=50)) == 10  # before: 50
    assert len(load_task("arith?n=10").problems(limit=5)) == 5
    assert len(load_task("arith").problems(limit=50)) == 50 and len(load_task("arith").problems()) == 300


def _damaged(tmp_path, datasets_dir, damage: str, suffix: str):
    """A task file of kind ``damage``: a gzip file cut short, plain text named .gz, or bytes that are not UTF-8."""
    path = tmp_path / f"{damage}{suffix}"
    if damage == "truncated":
        path.write_bytes((datasets_dir / "HumanEval.jsonl.gz").read_bytes()[:20000])
    elif damage == "plain":
        path.write_text('{"question": "1+1?", "answer": "#### 2"}\n', encoding="utf-8")
    else:
        path.write_bytes('{"question": "caf\u00e9?", "answer": "#### 2"}\n'.encode("latin-1"))
    return path


@pytest.mark.parametrize("task", ["gsm8k", "math500", "humaneval", "code", "jsonl"])
@pytest.mark.parametrize("damage, suffix, says", [
    ("truncated", ".jsonl.gz", ": not readable as gzip (it ends before its compressed data does: cut short?)"),
    ("plain", ".jsonl.gz", ": not readable as gzip (Not a gzipped file"),
    ("latin1", ".jsonl", ":1: not UTF-8 text (byte 0xe9 at column 18)"),
])
def test_a_damaged_task_file_is_a_clear_error(tmp_path, datasets_dir, task, damage, suffix, says):
    """A truncated .gz was an EOFError, which the CLI turned into "aborted" and exit 130; plain text
    named .gz (BadGzipFile) and a non-UTF-8 file were internal errors, "a bug in Ponder"."""
    path = _damaged(tmp_path, datasets_dir, damage, suffix)
    with pytest.raises(TaskSpecError) as err:
        load_task(f"{task}:{path}").problems()
    assert str(err.value).startswith(f"{path}{says}"), str(err.value)


def test_a_game24_csv_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "g24.csv"
    path.write_bytes("Rank,Puzzles,Note\n1,1 1 4 6,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(TaskSpecError, match=r"g24.csv:2: not UTF-8 text \(byte 0xe9 at column 14\); task files are "
                                            "read as UTF-8"):
        load_task(f"game24:{path}").problems()
