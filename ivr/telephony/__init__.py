"""Twilio's side of a call: the REST client that places calls, and a simulated phone that calls us as Twilio does."""
