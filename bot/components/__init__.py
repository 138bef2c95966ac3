"""Rasa graph components (loaded by Rasa in .venv-rasa; PYTHONPATH must contain the repo root)."""
