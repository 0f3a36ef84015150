"""Beats for BAS: the files read, and the order a sequence's beats are looked up in."""

import json
from pathlib import Path

import numpy as np
import pytest

from data.errors import InputError
from metrics.inputs import Item
from metrics.music_beats import BeatFinder, music_names


def test_beat_files(tmp_path):
    (tmp_path / "list.json").write_text(json.dumps([0.5, 1.0]))
    (tmp_path / "dict.json").write_text(json.dumps({"beat_times": [0.25]}))
    music = np.zeros((120, 438))
    music[[30, 90], 53] = 1.0
    (tmp_path / "bailando.json").write_text(json.dumps({"music_array": music.tolist()}))
    np.savez(tmp_path / "frames.npz", beats=np.array([30, 60]), fps=np.float64(60.0))
    np.savez(tmp_path / "times.npz", beat_times=np.array([0.1, 0.2]))
    finder = BeatFinder(tmp_path, None)
    expect = {"list": [0.5, 1.0], "dict": [0.25], "bailando": [0.5, 1.5], "frames": [0.5, 1.0], "times": [0.1, 0.2]}
    for name, times in expect.items():
        got, src = finder.times([name])
        assert got.tolist() == times and Path(src).stem == name
    assert finder.times(["missing"]) == (None, "")
    (tmp_path / "bad.json").write_text(json.dumps({"tempo": 120}))
    with pytest.raises(InputError, match="no beat times"):
        finder.times(["bad"])


def test_lookup_by_name_then_music(tmp_path):
    (tmp_path / "song7.json").write_text(json.dumps([1.0]))
    item = Item("dance3", [], lambda: None)
    names, audio = music_names(item, "/music/song7.wav")
    assert names == ["dance3", "song7"] and audio == [Path("/music/song7.wav")]
    times, src = BeatFinder(tmp_path, None).times(names, audio)
    assert times.tolist() == [1.0] and src == str(tmp_path / "song7.json")
    (tmp_path / "dance3.json").write_text(json.dumps([2.0]))
    assert BeatFinder(tmp_path, None).times(names, audio)[0].tolist() == [2.0]  # the sequence's own first
    assert music_names(item, "mBR0") == (["dance3", "mBR0"], [])  # an id, not an audio file
