"""The step-tag PRM input: where the tags go, for the lab PRM and for Math-Shepherd's format."""

from __future__ import annotations

import json

import pytest

from ponder import ModelSpecError
from ponder.scorers.prm import read_prm_config, tag_steps


def test_tags_follow_the_delimiter_and_an_unfinished_path_ends_with_one():
    assert tag_steps("<think> 1+2=3; 3*4=12 </think> Answer: 12", ";", "<step>") == (
        "<think> 1+2=3;<step> 3*4=12 </think> Answer: 12<step>")
    assert tag_steps("<think> 1+2=3; 3*4=12;", ";", "<step>") == "<think> 1+2=3;<step> 3*4=12;<step>"


def test_math_shepherds_tags_go_before_each_newline_after_a_space():
    steps = "Step 1: Janet's ducks lay 16 eggs.\nStep 2: 16-3=13.\nThe answer is: 13"
    assert tag_steps(steps, "\n", "ки", before=True, separator=" ") == (
        "Step 1: Janet's ducks lay 16 eggs. ки\nStep 2: 16-3=13. ки\nThe answer is: 13 ки")
    assert tag_steps("Step 1: 16 eggs.\nStep 2: 13.\n", "\n", "ки", before=True, separator=" ") == (
        "Step 1: 16 eggs. ки\nStep 2: 13. ки")  # unfinished: one tag a step


def test_the_tag_position_is_read_from_the_prm_config_and_checked(tmp_path):
    base = {"format": "step-tag", "step_tag": "ки", "good_token": "+", "bad_token": "-", "step_delimiter": "\n"}
    (tmp_path / "ponder_prm.json").write_text(json.dumps(base))
    cfg = read_prm_config(f"hf:{tmp_path}")
    assert (cfg["tag_position"], cfg["tag_separator"]) == ("after", "")  # the lab PRM's, by default
    (tmp_path / "ponder_prm.json").write_text(json.dumps({**base, "tag_position": "before", "tag_separator": " "}))
    assert read_prm_config(f"hf:{tmp_path}")["tag_position"] == "before"
    (tmp_path / "ponder_prm.json").write_text(json.dumps({**base, "tag_position": "inside"}))
    with pytest.raises(ModelSpecError, match="tag_position must be 'after' or 'before'"):
        read_prm_config(f"hf:{tmp_path}")
