"""Checkpoint reading without Lightning: weights-only loads, one-line errors, one module's state."""

import os

import pytest
import torch

from data.errors import InputError
from training.checkpoint import clear_cache, read_checkpoint, rng_state, set_rng_state, stage_state, sub_state


def test_read_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "none.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=f"{junk}: not a loadable checkpoint"):
        read_checkpoint(junk)


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "x": Payload()}, path)
    with pytest.raises(InputError, match="not a loadable checkpoint"):
        read_checkpoint(path)
    assert not (tmp_path / "ran").exists()


def test_stage_state_takes_one_module_and_caches_the_read(tmp_path):
    path = tmp_path / "stage.ckpt"
    state = {"tokenizer.w": torch.ones(2), "tokenizer.sub.b": torch.zeros(1), "other.w": torch.full((1,), 3.0)}
    torch.save({"hyper_parameters": {"tokenizer": {"width": 8}}, "state_dict": state,
                "optimizer_states": [{"big": torch.zeros(3)}]}, path)
    assert sub_state(state, "tokenizer.").keys() == {"w", "sub.b"}
    clear_cache()
    config, weights = stage_state(path, "tokenizer", "a.Stage")
    assert dict(config) == {"width": 8} and set(weights) == {"w", "sub.b"}
    again = stage_state(path, "tokenizer", "a.Stage")
    assert again[1]["w"] is weights["w"]  # read once
    with pytest.raises(TypeError):
        weights["w"] = torch.zeros(2)  # shared between callers: read-only
    with pytest.raises(InputError, match="not a translation checkpoint.*a.TranslationStage"):
        stage_state(path, "translation", "a.TranslationStage")


def test_rng_state_round_trip():
    state = rng_state()
    first = torch.rand(3)
    set_rng_state(state)
    assert torch.equal(torch.rand(3), first)
