r"""The approximation paper's MNIST autoencoder, with one activation.

Trains the Flux model zoo's autoencoder that section 4 of *Approximating
Activation Functions* uses (Dense(32) then Dense(784), both with
--activation; mean squared error, Adam(0.001)) to reproduce scikit-learn's
bundled digits resized to 28x28, with Keras progress bars, and prints one
line at the end: the final training loss, the wall time of `fit` and
examples per second. The paper's Table 1 compares such runs;
`reproduce_table1.py` runs them all.

Usage:

  python examples/autoencoder.py
  python examples/autoencoder.py --activation=tanh_pade_4_4 --epochs=50
  python examples/autoencoder.py --dataset=mnist --log_dir=/tmp/tb \
      --export_dir=/tmp/autoencoder
"""

from absl import app
from absl import flags

import workloads

WORKLOAD = workloads.WORKLOADS["autoencoder"]
workloads.define_flags(WORKLOAD)
flags.adopt_module_key_flags(workloads)  # so --helpshort lists them

if __name__ == "__main__":
  app.run(workloads.main_for(WORKLOAD))
