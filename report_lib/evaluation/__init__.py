"""Evaluation: measuring attribution maps (faithfulness, ROAD, localisation,
sanity checks), the statistics behind the tables (intervals, paired
differences, tie-averaged ranks) and ranking the methods. Imports
``config``, ``data``, ``models`` and ``methods``."""
