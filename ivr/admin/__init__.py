"""Administration: flows, prompts, hours and holidays, the emergency switch. Admins only.

    GET       /admin                               overview (emergency switch, links, recent changes)
    GET       /admin/flows                         flows, live versions, drafts
    GET       /admin/flows/<name>[?node=N]         the visual editor: picture, steps, a step's form, try it, history
    POST      /admin/flows/<name>/steps            add a step (optionally after an existing one)
    POST      /admin/flows/<name>/steps/<node>     change, rename, make first, or remove a step
    POST      /admin/flows/<name>/steps/<node>/reconnect   an arrow dragged onto another step
    POST      /admin/flows/<name>/steps/<node>/prompt      a new prompt (every language, recordings) for the step
    POST      /admin/flows/<name>/undo             give the draft back as it was before its last edit
    POST      /admin/flows/<name>/settings         the flow's description and languages
    GET       /admin/flows/<name>/yaml             the same draft as YAML text (advanced)
    GET/POST  /admin/new-flow                      a new flow (a draft) from a template or a copy
    GET/POST  /admin/numbers                       which flow answers which of the clinic's numbers
    POST      /admin/flows/<name>/check            JSON: validate draft text -> issues + SVG picture
    POST      /admin/flows/<name>/try              JSON: one turn of the "try it" phone on the draft
    POST      /admin/flows/<name>/save             save the draft, or publish it if it validates
    POST      /admin/flows/<name>/discard          drop the draft
    GET       /admin/flows/<name>/versions/<n>     one published version
    GET       /admin/flows/<name>/diff?a=N&b=M     unified diff between versions
    POST      /admin/flows/<name>/rollback/<n>     publish version n again as a new version
    GET/POST  /admin/prompts                       texts per language, missing translations
    POST      /admin/prompts/<lang>/<id>/audio     upload a recording (WAV/MP3)
    GET       /admin/prompts/<lang>/<id>/audio     listen
    GET/POST  /admin/hours                         weekly hours and holidays
    POST      /admin/hours/import                  .ics upload -> preview; confirm adds
    GET/POST  /admin/emergency                     the "clinic closed" switch
    GET/POST  /admin/desks                         the desks; POST adds one (desk_pages)
    GET/POST  /admin/desks/<key>                   rename, number, roles, hours; POST .../remove removes it
    GET/POST  /admin/flows/<name>/add-department   a desk, its prompts, steps and menu choice as one draft
    GET       /admin/setup                         what the install lacks, in words, with the setting for each
    GET/POST  /admin/api-keys                      the scheduling system's API keys; POST makes one (shown once)
    GET/POST  /admin/api-keys/<id>/rotate          confirm, then a new key under its name (old revoked)
    GET/POST  /admin/api-keys/<id>/revoke          confirm, then the key stops working

Every view needs the admin role (others get 403, visitors go to the login
page), every POST carries a CSRF token (JSON requests in the X-CSRFToken
header), and every view of versions and every change is in the audit log.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import api_key_pages, emergency_pages, flow_new, flow_pages, flow_visual, hours_pages, pages, prompt_pages  # noqa: E402,F401
from . import department_wizard, desk_pages, setup_pages  # noqa: E402,F401

__all__ = ["bp"]
