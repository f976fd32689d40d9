"""Keras layers backed by the native ops."""

from tf_approx.layers.pau import PAU
