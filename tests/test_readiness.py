"""Start-up checks: every setting a feature still lacks is said in words, on /healthz and in the admin banner."""

from __future__ import annotations

from ivr.operations import readiness
from ivr.clinic.settings import load_clinic

from .conftest import ROOT

CLINIC = load_clinic(ROOT / "config" / "clinic.yaml")


def test_an_install_straight_from_the_clone_is_told_everything_it_lacks(make_app):
    app = make_app(TWILIO_AUTH_TOKEN="", TWILIO_ACCOUNT_SID="", PUBLIC_URL="", DATA_KEY="")
    said = app.test_client().get("/healthz").get_json()["not_ready"]
    for setting in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "IVR_PUBLIC_URL", "IVR_DATA_KEY", "555-01xx"):
        assert any(setting in line for line in said), (setting, said)
    assert any("main_number" in line and "desks.nurse.number" in line for line in said)


def test_a_configured_install_has_nothing_to_fix():
    real = CLINIC.model_copy(update={
        "main_number": "+13125551147",
        "desks": {k: d.model_copy(update={"number": f"+1312555{1000 + i:04d}"}) for i, (k, d) in enumerate(CLINIC.desks.items())},
    })
    config = {"TWILIO_AUTH_TOKEN": "t", "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "PUBLIC_URL": "https://phones.example",
              "DATA_KEY": "k"}
    assert readiness.problems(config, real) == []
    assert readiness.problems({**config, "PUBLIC_URL": "phones.example"}, real) == [
        "IVR_PUBLIC_URL must be an absolute http(s) URL, not 'phones.example'"]
