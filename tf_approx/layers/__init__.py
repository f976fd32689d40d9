"""Keras layers: the native ops as layers, and the mollified layers (plain TF)."""

from tf_approx.layers.acdc import ACDC
from tf_approx.layers.acdc import SELL
from tf_approx.layers.fastfood import Fastfood
from tf_approx.layers.fastfood import FastfoodRBF
from tf_approx.layers.gaaf import GAAF
from tf_approx.layers.mollify import MollifiedActivation
from tf_approx.layers.mollify import MollifyingBlock
from tf_approx.layers.noisy import NoisyActivation
from tf_approx.layers.pau import PAU
from tf_approx.layers.recurrent import GRU
from tf_approx.layers.recurrent import LSTM
