"""Config coercion: YAML and checkpoint dicts become the config dataclasses, nested ones included."""

from dataclasses import dataclass, field

import pytest

from training.config import coerce_config


@dataclass
class Inner:
    width: int = 8
    name: str = "a"


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    rate: float = 0.5


def test_none_gives_defaults_and_instances_pass_through():
    assert coerce_config(Outer, None) == Outer()
    given = Outer(rate=2.0)
    assert coerce_config(Outer, given) is given


def test_dicts_build_nested_dataclasses():
    out = coerce_config(Outer, {"inner": {"width": 32}, "rate": 0.1})
    assert isinstance(out.inner, Inner) and out.inner == Inner(width=32) and out.rate == 0.1
    already = Inner(width=4)
    assert coerce_config(Outer, {"inner": already}).inner is already


def test_unknown_fields_and_wrong_types_are_refused():
    with pytest.raises(ValueError, match="no field.*widht.*fields: width, name"):
        coerce_config(Inner, {"widht": 3})
    with pytest.raises(TypeError, match="expected Inner or a dict, got list"):
        coerce_config(Inner, [1, 2])
