"""Clinic phone system: Flask app factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr import config as config_module
from ivr import services
from ivr.protection import logging_setup
from ivr.clinic.runtime import Runtime
from ivr.store import connect


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app: defaults, then environment (TWILIO_*, REDIS_URL, IVR_*), then ``test_config``."""
    from ivr.protection.private_files import restrict_umask

    restrict_umask()  # run by gunicorn directly too: anything this process writes is private
    app = Flask(__name__)
    app.config.from_object(config_module.Defaults)
    config_module.load_environment(app.config)
    app.config.from_prefixed_env("IVR")
    if test_config:
        app.config.update(test_config)

    logging_setup.configure(app.config["LOG_LEVEL"])
    proxies = int(app.config["TRUSTED_PROXIES"] or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies, x_prefix=proxies)  # type: ignore[method-assign]

    runtime = Runtime(
        Path(app.config["CONFIG_DIR"]),
        Path(app.config["PROMPTS_DIR"]),
        interval=float(app.config["RELOAD_INTERVAL"]),
    )
    app.config["IVR_FALLBACK_NUMBER"] = runtime.clinic.fallback_number
    conn = connect(config_module.redis_url(app.config), timeout=float(app.config["REDIS_TIMEOUT"]))
    svc = services.init_app(app, runtime, conn)
    runtime.attach(svc.flow_versions)  # flow versions published in Redis (admin pages) go live here too

    from ivr.voice.security import init_app as init_signatures

    init_signatures(app, config_module.auth_token(app.config))

    from ivr.protection import request_limits
    from ivr.staff import sessions

    request_limits.init_app(app)  # before anything reads a body
    sessions.init_app(app)
    from ivr import admin, staff, voice
    from ivr.operations import health
    from ivr.operations import metrics
    from ivr.staff import limits

    csrf = CSRFProtect(app)
    csrf.exempt(voice.bp)  # Twilio's webhooks are signed instead
    limits.init_app(app)
    limits.limiter.exempt(voice.bp)  # login limits only: no limiter work on Twilio's webhooks
    limits.limiter.exempt(health.bp)
    app.register_blueprint(voice.bp)
    app.register_blueprint(health.bp)
    metrics.init_app(app)
    app.register_blueprint(staff.bp)
    app.register_blueprint(admin.bp)
    _followups(app, csrf)
    from ivr.admin import reports as reports_admin

    app.register_blueprint(reports_admin.bp)
    from ivr.texts import webhooks as texts

    texts.init_app(app, csrf, limits.limiter)  # /sms/*: Twilio's signed webhooks for texts (ivr.texts)
    return app


def _followups(app: Flask, csrf: CSRFProtect) -> None:
    """Follow-up calls: the scheduling system's JSON endpoint and the admin results pages."""
    from ivr.admin import followups as followups_admin
    from ivr.followups import api

    csrf.exempt(api.bp)  # no cookies: an API key authenticates each request
    api.init_app(app)
    app.register_blueprint(followups_admin.bp)
    from ivr.operations import readiness as install

    install.warn_at_start(app.config, app.extensions["ivr"].runtime.clinic)
