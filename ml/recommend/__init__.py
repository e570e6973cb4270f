"""Recommendations: rating models over Surprise, top-N rankers, content model, evaluation.

Pure Python (no Prefect); flows/recommend.py wires these into the platform.
"""
