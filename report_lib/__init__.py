"""report_lib: the shared code of the course "Visualising Deep Convolutional
Neural Networks".

Its subpackages are layers; each imports only from the layers before it:
``config`` < ``data`` < ``models`` < ``methods`` < ``evaluation`` < ``course``
< ``publish`` (which, like ``config`` and ``data.samples``, never starts
TensorFlow). Modules are imported explicitly, e.g.
``from report_lib.methods.registry import explain``.
"""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CPU flags) would otherwise fill the
# first output of every notebook; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Reproducibility: with several inter-op threads, TensorFlow sums gradients in
# whatever order they arrive, and 200 optimization steps amplify the rounding
# differences into visibly different images. One inter-op thread (ops still
# use every core inside) makes runs repeat exactly, at no measurable cost here.
# It only takes effect when report_lib is imported before TensorFlow starts.
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

__version__ = "0.1.0"
