r"""The approximation paper's character LSTM, with one pair of activations.

Trains the Flux model zoo's char-rnn that section 4 of *Approximating
Activation Functions* uses (two LSTM(128) layers with --activation and
--recurrent_activation, then Dense over the characters on logits; an
Embedding(32) in place of Flux's one-hot input; cross-entropy on every next
character of 50-character windows, Adam(0.003)) on the help topics of
Python's reference (`pydoc_data.topics`, which ships with the standard
library: about 465,000 characters), with Keras progress bars. It prints a
sample of generated text, then one line: the final training loss, the wall
time of `fit` and examples (windows) per second. The paper's Table 1
compares such runs; `reproduce_table1.py` runs them all.

--lstm picks the LSTM layers: `fused` (the default) is
`tf_approx.layers.LSTM`, one native op per layer for the whole sequence;
`keras` is `keras.layers.LSTM` without cuDNN (which would serve only exact
tanh/sigmoid, and only on a GPU), a dozen small ops per step whose overhead
dwarfs the activations the paper measures. Both have the same weights and
compute the same function; the fused layer takes tanh, sigmoid and
tf_approx's activations, Keras' layer any Keras activation (e.g. relu).

Usage:

  python examples/char_rnn.py
  python examples/char_rnn.py --activation=tanh_pade_4_4 \
      --recurrent_activation=sigm_fastexp_512
  python examples/char_rnn.py --lstm=keras --activation=relu \
      --recurrent_activation=relu
  python examples/char_rnn.py --data_path=shakespeare.txt --epochs=20 \
      --log_dir=/tmp/tb --export_dir=/tmp/char_rnn
"""

from absl import app
from absl import flags

import workloads

WORKLOAD = workloads.WORKLOADS["char_rnn"]
workloads.define_flags(WORKLOAD)
flags.adopt_module_key_flags(workloads)  # so --helpshort lists them

if __name__ == "__main__":
  app.run(workloads.main_for(WORKLOAD))
