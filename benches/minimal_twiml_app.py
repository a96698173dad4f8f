"""The do-nothing signed TwiML app that benches/webhook_cost.py compares the first webhook against:
Flask, Twilio's own signature check, a static answer. What any signed TwiML endpoint must cost."""

from __future__ import annotations

import os

from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator

ANSWER = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello.</Say></Response>'

app = Flask(__name__)
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])


@app.post("/voice/incoming")
def incoming():
    if not validator.validate(request.url, request.form, request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    return Response(ANSWER, mimetype="text/xml")
