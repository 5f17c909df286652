"""Rasa NLU components of our own (referenced from config.yml)."""
