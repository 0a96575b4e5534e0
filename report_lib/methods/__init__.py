"""Methods: attribution maps (the registry, gradients and CAMs, occlusion,
the maps module), feature visualization and its objectives, dataset
examples, adversarial patches and the filter-history callback. Imports
``config``, ``data`` and ``models``."""
