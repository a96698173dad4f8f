"""The clinic as configured: its settings, hours and calling hours, prompts, and what a web process loads."""
