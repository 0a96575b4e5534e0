"""The measuring instruments of benchmarks/run.py (not any timing)."""

import importlib.util
import sys
from pathlib import Path

import pytest
import tensorflow as tf


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
    spec = importlib.util.spec_from_file_location("bench_run", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_eagerly_turns_compiled_functions_into_plain_python(bench):
    @tf.function
    def mode():
        return tf.constant(tf.executing_eagerly())

    assert not bool(mode())
    assert bool(bench.eagerly(mode)())
    assert not bool(mode())  # switched back afterwards


def test_measure_counts_the_tensor_memory_of_the_first_call(bench):
    calls = []

    def allocate():
        calls.append(1)
        return float(tf.reduce_sum(tf.ones((4096, 1024))))  # a 16 MB tensor

    timing = bench.measure(allocate, repeats=3)
    assert len(calls) == 4 and timing.seconds > 0 and timing.first_seconds > 0
    if timing.peak_mb is not None:
        assert 15.5 <= timing.peak_mb <= 64


def test_rows_format_as_markdown(bench):
    row = {"model": "m", "method": "Grad-CAM", "work": "2 images", "baseline": "tf-keras-vis Gradcam",
           "baseline_timing": {"seconds": 0.2, "first_seconds": 1.0, "peak_mb": 99.4},
           "report_lib_timing": {"seconds": 0.02, "first_seconds": 0.5, "peak_mb": None}, "speed_up": 10.0}
    line = bench.format_row(row)
    assert line == "| m | Grad-CAM | 2 images | tf-keras-vis Gradcam | 0.200 | 0.020 | 10.0x | 99 | n/a |"
    assert line.count("|") == bench.TABLE_HEADER.splitlines()[0].count("|")
