"""The Rasa project: config, domain, endpoints, the underthesea tokenizer and the custom actions."""
