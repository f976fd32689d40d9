"""Keras layers backed by the native ops."""

from tf_approx.layers.acdc import ACDC
from tf_approx.layers.acdc import SELL
from tf_approx.layers.fastfood import Fastfood
from tf_approx.layers.fastfood import FastfoodRBF
from tf_approx.layers.pau import PAU
