"""Keras layers backed by the native ops."""

from tf_approx.layers.fastfood import Fastfood
from tf_approx.layers.fastfood import FastfoodRBF
from tf_approx.layers.pau import PAU
