"""The comparison helper behind every public check and hidden test: what it accepts and how it reports."""

import numpy as np
import pytest
import torch

from tlcourse.checks import TOLERANCES, CheckFailure, check


def failure(actual, expected, **kwargs) -> str:
    with pytest.raises(CheckFailure) as info:
        check(actual, expected, **kwargs)
    return str(info.value)


def test_equal_values_pass():
    check({("a", "b"): 2, ("b", "c"): 1}, {("b", "c"): 1, ("a", "b"): 2})
    check(["ab", "c"], ["ab", "c"])
    check(torch.ones(2, 3), torch.ones(2, 3))


def test_length_is_reported_before_values():
    message = failure(["a", "b"], ["a", "b", "c"])
    assert "expected a list of length 3, got a list of length 2" in message


def test_the_place_of_a_difference_is_named():
    message = failure([["a"], ["b", "x"]], [["a"], ["b", "c"]])
    assert message.startswith("result[1][1]: expected 'c', got 'x'")


def test_dict_keys_missing_and_unexpected_are_listed():
    message = failure({("a", "b"): 1, ("x", "y"): 2}, {("a", "b"): 1, ("b", "c"): 2})
    assert "missing [('b', 'c')]" in message and "unexpected [('x', 'y')]" in message


def test_types_must_match():
    assert "expected a tuple of length 1, got a list of length 1" in failure(["a"], ("a",))
    assert "expected an int, got a bool" in failure(True, 1)


def test_dict_subclasses_count_as_dicts():
    from collections import Counter, defaultdict

    check(Counter({"a": 2}), {"a": 2})
    check(defaultdict(int, {"a": 2}), {"a": 2})


def test_tensor_shape_then_dtype_then_values():
    assert "expected shape (2, 3), got shape (3, 2)" in failure(torch.zeros(3, 2), torch.zeros(2, 3))
    assert "expected dtype torch.float32, got dtype torch.float64" in failure(
        torch.zeros(2, dtype=torch.float64), torch.zeros(2))
    message = failure(torch.tensor([1.0, 2.0, 3.5]), torch.tensor([1.0, 2.0, 3.0]), tol=TOLERANCES["float32"])
    assert "1 of 3 values differ; first at index (2,)" in message


def test_float_tolerance():
    check(torch.tensor([1.0]) + 1e-7, torch.tensor([1.0]), tol=TOLERANCES["float32"])
    check(np.float32(1.0), np.float32(1.0))
    check(1.0 + 1e-9, 1.0, tol=TOLERANCES["float32"])
    assert "difference" in failure(1.1, 1.0, tol=TOLERANCES["float32"])


def test_integer_tensors_are_compared_exactly_even_beyond_float32_precision():
    big = torch.tensor([2**24 + 1], dtype=torch.int64)
    assert "expected 16777216, got 16777217" in failure(big, big - 1, tol=TOLERANCES["float32"])
    check(big, big.clone())
