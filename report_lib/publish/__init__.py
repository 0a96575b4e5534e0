"""Publishing: the build that runs every section, the HTML report and the
repository links. Imports only ``config``, ``data.samples`` and the
notebook tools; never TensorFlow (rendering must not start it)."""
