"""nbval settings: TensorFlow and progress bars write to stderr, which varies
from run to run, so it is not compared (nbval's documented hook)."""


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "application/javascript", "stderr")
