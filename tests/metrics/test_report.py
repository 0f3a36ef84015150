"""The printed table and the json form of a result."""

import json
import math

import numpy as np

from metrics.protocols import PROTOCOLS
from metrics.report import format_table, nan_to_none, protocol_lines


def _result(metrics, notes=()):
    p = PROTOCOLS["dancecamera3d"]
    return {"metrics_version": "9.9", "task": "camera", "protocol": p.settings(), "protocol_lines": protocol_lines(p),
            "pred": {"dir": "P", "kind": "folder", "count": 3, "with_beats": 1},
            "reference": {"dir": "R", "kind": "DCM root, test split", "count": 4},
            "cache": {"dir": None, "hits": 0, "computed": 7}, "metrics": metrics, "notes": list(notes)}


def test_table_layout_and_number_formats():
    table = format_table(_result({
        "FID_k": {"pred": 1.23456, "reference": None},
        "Div_k": {"pred": 2e-9, "reference": float("nan")},
        "LCD (square)": {"pred": 123456.0, "reference": -0.5},
    }, notes=["a note"]))
    lines = table.split("\n")
    assert lines[0] == "pasdeux metrics 9.9  task=camera  protocol=dancecamera3d"
    assert lines[1] == "  DanceCamera3D (CVPR 2024) on DCM: scripts/evaluate.py"
    assert "  pred: 3 from P (folder, beats for 1/3)" in lines
    assert "  reference: 4 from R (DCM root, test split)" in lines
    assert "  cache: 0 hit(s), 7 computed (disabled)" in lines
    assert lines[-6:] == [
        "",
        "  metric                pred   reference",
        "  FID_k               1.2346           —",  # a score that does not apply
        "  Div_k               0.0000         n/a",  # |v| < 5e-5 prints as 0; NaN is not available
        "  LCD (square)     1.235e+05     -0.5000",  # 4 significant digits from 1e4 up
        "  note: a note",
    ]


def test_nan_to_none_makes_strict_json():
    x = {"a": float("nan"), "b": [np.float64(1.5), np.float32("inf"), (np.int64(2), np.bool_(True))], "c": "s"}
    y = nan_to_none(x)
    assert y == {"a": None, "b": [1.5, None, [2, True]], "c": "s"}
    json.dumps(y, allow_nan=False)
    assert math.isnan(x["a"])  # the input is left alone
