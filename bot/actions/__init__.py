"""Custom Rasa actions, run by rasa-sdk's executor inside the app venv (see endpoint.py)."""
