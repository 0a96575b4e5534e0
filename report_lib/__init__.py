"""report_lib: the shared code of the course "Visualising Deep Convolutional
Neural Networks" (models, images, visualization methods, plots, report).

Modules are imported explicitly, e.g. ``from report_lib.attention import Explainer``.
"""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CPU flags) would otherwise fill the
# first output of every notebook; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
