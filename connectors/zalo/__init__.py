"""The Zalo Official Account channel: signed webhook in, Customer Service messages out."""
