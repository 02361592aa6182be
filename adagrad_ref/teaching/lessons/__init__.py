"""Lessons: one module per topic, each with its measured values and its figure."""
