"""The named protocols: validation, task checks, the reference settings, the cache-key settings."""

import pytest

from data.errors import InputError
from metrics.protocols import DEFAULT_PROTOCOL, PROTOCOLS, TASKS, Protocol, get_protocol


def test_protocols_validate_and_match_tasks():
    assert {p.task for p in PROTOCOLS.values()} == {"solo", "duet", "camera"}
    with pytest.raises(ValueError):
        Protocol("x", "solo", "", data_fps=60, bas_sigma=0)
    with pytest.raises(ValueError):
        Protocol("x", "dance", "", data_fps=60)
    with pytest.raises(ValueError):
        Protocol("x", "solo", "", data_fps=60, reference_set="train")
    with pytest.raises(InputError):
        get_protocol("dancecamera3d", "solo")
    assert get_protocol(None, "duet").name == "duolando"
    b = PROTOCOLS["bailando"]
    assert (b.legacy, b.crop_frames, b.crop_reference, b.zero_start, b.reference_set, b.bas_sigma) == \
        (True, 1200, False, True, "all", 3.0)
    with pytest.raises(Exception):
        b.legacy = False  # frozen


def test_default_protocols_are_the_reference_ones():
    assert set(DEFAULT_PROTOCOL) == set(TASKS)
    for task, name in DEFAULT_PROTOCOL.items():
        assert get_protocol(None, task) is PROTOCOLS[name] and PROTOCOLS[name].task == task
    with pytest.raises(InputError, match="unknown protocol 'nope'"):
        get_protocol("nope", "solo")
    with pytest.raises(InputError, match="unknown task"):
        get_protocol(None, "dance")


def test_feature_settings_name_the_role_and_leave_out_set_level_settings():
    p = PROTOCOLS["bailando"]
    s = p.feature_settings("pred")
    assert s["role"] == "pred" and s["task"] == "solo" and s["crop_frames"] == 1200
    # FID-level and beat-scoring settings do not change a sequence's cached features
    for key in ("name", "summary", "drop_constant_dims", "bas_sigma", "fact_sigma", "reference_set"):
        assert key not in s
    assert p.feature_settings("reference") == {**s, "role": "reference"}
