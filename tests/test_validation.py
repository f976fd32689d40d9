"""The shared argument checks: types, bounds, seeds, dtypes, permutations."""

import numpy as np
import pytest
import tensorflow as tf

from tf_approx import _validation as v


@pytest.mark.parametrize("value", [10, 10.0, np.float32(10), np.float16(10),
                                   np.int64(10), np.array(10.0),
                                   tf.constant(10.0)])
def test_check_number_takes_python_and_numpy_scalars(value):
  number = v.check_number(value, "k", low=0.0, low_open=True)
  assert number == 10.0 and type(number) is float


@pytest.mark.parametrize("value", [True, np.bool_(False), "1.5", 1 + 2j,
                                   np.complex64(1), None, [1.0],
                                   np.ones(2)])
def test_check_number_refuses_other_types_naming_the_argument(value):
  with pytest.raises(TypeError, match="`alpha` must be a finite number"):
    v.check_number(value, "alpha")


@pytest.mark.parametrize("value, kwargs, message", [
    (float("nan"), {}, r"`c` must be a finite number, got nan"),
    (float("inf"), dict(low=0.0), r"`c` must be a finite number >= 0"),
    (10**400, {}, r"`c` must be a finite number, got 1000"),
    (-1, dict(low=0.0), r"`c` must be a finite number >= 0, got -1"),
    (0.0, dict(low=0.0, low_open=True), r"`c` must be a finite number > 0"),
    (2, dict(low=0.0, high=1.0), r"`c` must be a finite number in \[0, 1\]"),
    (1.0, dict(low=0.0, high=1.0, high_open=True), r"in \[0, 1\)"),
])
def test_check_number_bounds(value, kwargs, message):
  with pytest.raises(ValueError, match=message):
    v.check_number(value, "c", **kwargs)


def test_check_int():
  assert v.check_int(np.int32(3), "units", low=1) == 3
  assert type(v.check_int(np.array(3), "units")) is int
  for value in (2.0, True, "3", None, np.float64(3)):
    with pytest.raises(TypeError, match="`units` must be an int"):
      v.check_int(value, "units")
  with pytest.raises(ValueError, match=r"`units` must be an int >= 1, got 0"):
    v.check_positive_int(0, "units")
  with pytest.raises(ValueError,
                     match=r"in \[1, 2\*\*31 - 1\], got 2147483648"):
    v.check_positive_int(2**31, "units", high=2**31 - 1)


def test_check_choice():
  assert v.check_choice("a", ("a", "b"), "base") == "a"
  with pytest.raises(ValueError, match=r"`base` must be one of \('a', 'b'\), "
                     "got 'c'"):
    v.check_choice("c", ("a", "b"), "base")
  with pytest.raises(TypeError, match="`base` must be one of"):
    v.check_choice(["a"], ("a", "b"), "base")


def test_seeds_are_ints_in_range():
  assert v.check_seed(np.uint64(2**63 - 1)) == 2**63 - 1
  assert 0 <= v.seed_or_draw(None) < 2**31
  for value in (1.0, 1.5, True, "7", np.float32(2)):
    with pytest.raises(TypeError, match="`seed` must be an int seed"):
      v.check_seed(value)
  for value in (-1, 2**63, 2**64 - 1, 2**70):
    with pytest.raises(ValueError, match=r"`seed` must be an int seed in "
                       r"\[0, 2\*\*63 - 1\]"):
      v.check_seed(value)
  with pytest.raises(ValueError, match=r"in \[0, 2\*\*63 - 2\]"):
    v.seed_or_draw(2**63 - 1, high=2**63 - 2)


@pytest.mark.parametrize("value", [
    [0.5, 1], 2, np.ones(3, np.float16), tf.ones([3], tf.bfloat16),
    tf.Variable([1.0])])
def test_float_parameters(value):
  assert v.check_float_parameter(value, "a") is value


@pytest.mark.parametrize("value, dtype", [
    (np.ones(3, np.complex64), "complex64"), ([0, 1 + 1j], "complex128"),
    (tf.ones([3], tf.int32), "int32"), (np.ones(3, np.int64), "int64"),
    ([True, False], "bool"), (np.array([True]), "bool"), ("ab", "str")])
def test_non_float_parameters_raise_type_error(value, dtype):
  with pytest.raises(TypeError, match=f"`a` must hold real floats.*got "
                     f"{dtype}"):
    v.check_float_parameter(value, "a")


def test_permutations():
  p = np.array([[2, 0, 1], [0, 1, 2]], np.int64)
  np.testing.assert_array_equal(v.check_permutation(p).numpy(), p)
  assert v.check_permutation(p).dtype == tf.int32
  wrapped = p.copy()
  wrapped[0, 0] += 2**32  # == 2 in int32: another permutation
  with pytest.raises(ValueError, match=r"`permutation` must hold a "
                     r"permutation of range\(3\) in every row, got "
                     r"\[4294967298, 0, 1\] in row 0"):
    v.check_permutation(wrapped)
  with pytest.raises(ValueError, match="row 1"):
    v.check_permutation([[0, 1, 2], [0, 0, 2]])
  for floats in (p.astype(np.float64), tf.constant(p, tf.float32),
                 [[0.0, 1.0]]):
    with pytest.raises(TypeError, match="`permutation` must be int32 or "
                       "int64"):
      v.check_permutation(floats)
  with pytest.raises(TypeError, match="`perm` must hold ints"):
    v.check_permutation_values(p + 0.5, "perm")


def test_graph_permutation_that_would_wrap_fails_its_assertion():
  @tf.function(input_signature=[tf.TensorSpec([1, 3], tf.int64)])
  def cast(p):
    return v.check_permutation(p)

  np.testing.assert_array_equal(cast(tf.constant([[1, 2, 0]], tf.int64)),
                                [[1, 2, 0]])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="`permutation` has values outside int32"):
    cast(tf.constant([[1 + 2**32, 2, 0]], tf.int64))
