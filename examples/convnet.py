r"""The approximation paper's MNIST classifier, with one activation.

Trains the Flux model zoo's convnet that section 4 of *Approximating
Activation Functions* uses (three 3x3 convolutions of 16, 32 and 32 filters,
each followed by --activation and 2x2 max-pooling, then Dense(10) on logits;
cross-entropy, Adam(0.003)) on scikit-learn's bundled digits resized to 28x28,
with Keras progress bars, and prints one line at the end: the final training
loss, the wall time of `fit` and examples per second. The paper's Table 1
compares such runs; `reproduce_table1.py` runs them all.

Usage:

  python examples/convnet.py
  python examples/convnet.py --activation=sigm_fastexp_512 --epochs=20
  python examples/convnet.py --dataset=mnist --log_dir=/tmp/tb \
      --export_dir=/tmp/convnet
"""

from absl import app
from absl import flags

import workloads

WORKLOAD = workloads.WORKLOADS["convnet"]
workloads.define_flags(WORKLOAD)
flags.adopt_module_key_flags(workloads)  # so --helpshort lists them

if __name__ == "__main__":
  app.run(workloads.main_for(WORKLOAD))
