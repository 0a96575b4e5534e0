"""Models: the registry, the bundle that describes a classifier, the
embedded EfficientNet-Lite0 and its weight reader, class names, layers,
surgery and small trained models. Imports only ``config`` and ``data``."""
