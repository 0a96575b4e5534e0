"""Measuring explanations: metrics, the de-biased removal (ROAD) and the statistics behind the tables."""
