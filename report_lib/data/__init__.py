"""Data: image loading, the sample images that packages ship (with their
credits), classification data sets and a synthetic set with known answers.
Imports only ``config``; ``images`` and ``samples`` do not start TensorFlow."""
