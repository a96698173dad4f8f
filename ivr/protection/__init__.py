"""Protecting patient data and the server: encryption at rest, private files, request limits, log masking."""
