"""Evaluation: measuring attribution maps (faithfulness, localisation,
sanity checks) and ranking the methods. Imports ``config``, ``data``,
``models`` and ``methods``."""
