"""Tests here need Rasa: run them with `.venv-rasa/bin/python -m pytest tests/rasa`.

In the app venv (no Rasa) the directory is not collected at all.
"""

import importlib.util

if importlib.util.find_spec("rasa") is None:
    collect_ignore_glob = ["*"]
