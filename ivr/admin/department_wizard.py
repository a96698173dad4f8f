"""The common change in one form: "add a department to the main menu".

    GET/POST  /admin/flows/<name>/add-department
    GET       /admin/add-department                 the same for the default flow (the main menu)

One form asks for the department's desk (a new one, or one the clinic has), the menu key and words
callers may say, and what callers hear in each of the clinic's languages: the menu's words with the new
choice, "connecting you", and the voicemail greeting. Sent, it makes:

* the desk in config/clinic.yaml (if new; ``desk_pages``: validated, round-trip, audited);
* its prompts, saved into the flow's draft with ``prompt_pages.save_prompt_to_draft`` (callers hear
  none of them before the flow is published: not even the menu's new words);
* in the flow's draft: a transfer step to the desk, with a callback offer (call me back, hold,
  voicemail) when nobody answers or the wait is long, hold, and voicemail behind it; and the menu choice.

Everything is checked before anything is written. The manager lands in the visual editor on the
draft, sees the new steps in the picture, tries it, and publishes it like any other draft.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from ruamel.yaml.comments import CommentedMap

from ivr import services
from ivr.clinic.settings import ClinicConfigError
from ivr.flows.editing import EditError, FlowEdit
from ivr.flows.model import KEYS
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required
from ivr.store import audit as actions

from . import bp, desk_pages, prompt_pages
from .flow_pages import check, draft_catalog, draft_text, require_flow
from .prompt_pages import PromptRefused, save_prompt_to_draft, text_problem

# What the callback offer understands, as the shipped flow's offers (other languages: keys only).
OFFER_WORDS = {
    "callback": {"en": ["call me back", "callback", "call back"], "es": ["llámenme", "devolver la llamada", "que me llamen"]},
    "hold": {"en": ["hold", "wait"], "es": ["esperar", "espero"]},
    "voicemail": {"en": ["message", "voicemail"], "es": ["mensaje", "recado"]},
}
# Suggested words in English ({name}: the department's name as said in a sentence).
SUGGESTED = {
    "connecting": "Connecting you to {name}. Please hold.",
    "voicemail": ("Nobody in {name} can take your call right now. After the tone, please say your name, "
                  "your phone number and your message. Then press the pound key."),
}


class WizardError(ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Plan:
    """What the form asks for, read and checked."""

    name: str  # the department's name, as the menu says it
    desk_key: str  # an existing desk, or the key the new desk will get
    new_desk: desk_pages.DeskForm | None
    menu: str  # the menu step the choice goes in
    digit: str
    keywords: dict[str, list[str]]
    menu_texts: dict[str, str]  # lang -> the menu prompt's whole new text
    connecting: dict[str, str]
    voicemail: dict[str, str]


def menus(edit: FlowEdit) -> list[str]:
    return [str(n) for n, raw in edit.nodes.items() if isinstance(raw, dict) and raw.get("type") == "menu"]


def free_keys(node: dict) -> list[str]:
    """The keys no option of a menu uses yet (nor its "repeat" key), 1-9 first, then 0."""
    used = {str(o.get("digit")) for o in node.get("options") or [] if isinstance(o, dict) and o.get("digit") is not None}
    used.add(str(node.get("repeat_digit", "*")))
    return [k for k in "1234567890" if k in KEYS and k not in used]


def _keywords(node: dict, lang: str) -> set[str]:
    """The words the menu's options already answer to in ``lang`` (lower case)."""
    out = set()
    for option in node.get("options") or []:
        words = option.get("keywords") if isinstance(option, dict) else None
        if isinstance(words, dict):
            words = words.get(lang)
        out |= {str(w).lower() for w in words or []}
    return out


def _free(base: str, taken) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def _languages() -> dict[str, str]:
    return {code: voice.name for code, voice in services.get().runtime.clinic.languages.items()}


def _text(form, field: str) -> str:
    return " ".join((form.get(field) or "").split())


def read_plan(form, edit: FlowEdit, flow: str) -> Plan:
    clinic = desk_pages.current_clinic()
    languages = _languages()
    name = _text(form, "department")
    if not name:
        raise WizardError("Say what the department is, e.g. pharmacy refills.", "department")
    choice = form.get("desk") or "new"
    if choice == "new":
        desk = desk_pages.read_form({"name": form.get("desk_name"), "number": form.get("number"),
                                     "hours_mode": "clinic", **{k: v for k, v in form.items() if k.startswith("role_")}},
                                    clinic.country)
        if any(d.name.lower() == desk.name.lower() for d in clinic.desks.values()):
            raise WizardError(f"There is already a desk named {desk.name}: choose it from the list, or give the new one another name.", "desk_name")
        key = desk_pages.new_key(desk.name, clinic.desks)
    elif choice in clinic.desks:
        desk, key = None, choice
    else:
        raise WizardError("Choose a desk from the list.", "desk")
    menu = form.get("menu") or ""
    if menu not in menus(edit):
        raise WizardError("Choose the menu the new choice goes in.", "menu")
    digit = form.get("digit") or ""
    if digit not in free_keys(edit.node(menu)):
        raise WizardError(f"Key {digit or '(none)'} is already a choice in that menu: choose a free key.", "digit")
    keywords = {lang: [w.strip() for w in (form.get(f"keywords_{lang}") or "").split(",") if w.strip()][:20] for lang in languages}
    for lang, words in keywords.items():
        taken = _keywords(edit.node(menu), lang)
        clash = next((w for w in words if w.lower() in taken), None)
        if clash:
            raise WizardError(f"{languages[lang]}: “{clash}” already chooses another option of this menu: "
                              "leave it out or use other words.", f"keywords_{lang}")
    plan = Plan(name, key, desk, menu, digit, {k: v for k, v in keywords.items() if v},
                {}, {}, {})
    for lang, language in languages.items():
        for part, field, what in ((plan.menu_texts, "menu_text", "the menu's words"),
                                  (plan.connecting, "connecting", "the words before the call is put through"),
                                  (plan.voicemail, "voicemail", "the voicemail greeting")):
            text = _text(form, f"{field}_{lang}")
            if not text:
                raise WizardError(f"{language}: write {what} (callers in {language} would hear nothing).", f"{field}_{lang}")
            part[lang] = text
        if digit not in plan.menu_texts[lang]:
            raise WizardError(f"{language}: the menu's words do not mention key {digit}, so callers would not know to "
                              f"press it. Add a sentence such as “For {name}, press {digit}.”", f"menu_text_{lang}")
    return plan


def add_steps(edit: FlowEdit, plan: Plan, connecting: str, voicemail: str) -> str:
    """The transfer, the callback offer, hold and voicemail, and the menu's choice; the transfer step's name."""
    key, langs = plan.desk_key, list(_languages())
    taken = set(edit.nodes)
    to_desk = _free(f"to_{key}", taken)
    offer = _free(f"{key}_callback_offer", taken | {to_desk})
    hold = _free(f"{key}_hold", taken | {to_desk, offer})
    mailbox = _free(f"{key}_voicemail", taken | {to_desk, offer, hold})

    def words(kind: str) -> dict[str, list[str]]:
        return {lang: w for lang, w in OFFER_WORDS[kind].items() if lang in langs}

    edit.add_node(to_desk, "transfer", {"desk": key, "prompt": connecting, "on_long_wait": offer, "on_no_answer": offer})
    edit.add_node(offer, "callback", {"department": key, "on_failure": mailbox})
    edit.nodes[offer].insert(2, "options", [
        _row({"digit": 1, "callback": True, "keywords": words("callback")}),
        _row({"digit": 2, "next": hold, "keywords": words("hold")}),
        _row({"digit": 3, "next": mailbox, "keywords": words("voicemail")}),
    ])
    edit.add_node(hold, "hold", {"desk": key, "on_timeout": mailbox})
    edit.add_node(mailbox, "voicemail", {"department": key, "prompt": voicemail})
    options = edit.node(plan.menu).get("options")
    option = {"digit": int(plan.digit), **({"keywords": plan.keywords} if plan.keywords else {}), "next": to_desk}
    at = next((i for i, o in enumerate(options) if isinstance(o, dict) and o.get("language")), len(options))
    options.insert(at, _row(option, block=not all(isinstance(o, CommentedMap) and o.fa.flow_style() for o in options)))
    return to_desk


def _row(values: dict, block: bool = False) -> CommentedMap:
    """One option, written on one line (``{digit: 1, next: x}``) unless its menu writes options as blocks."""
    from ivr.flows.editing import _plain

    row = CommentedMap((k, _plain(v, None)) for k, v in values.items())
    if not block:
        row.fa.set_flow_style()
    return row


def _form_values(form, edit: FlowEdit, flow: str) -> dict:
    """What the form shows: what was typed, else suggestions from the draft."""
    catalog = draft_catalog(flow)
    menu_list = menus(edit)
    menu = form.get("menu") or (menu_list[0] if menu_list else "")
    node = edit.node(menu) if menu in menu_list else {}
    prompt = node.get("prompt", "") if node else ""
    keys = free_keys(node) if node else []
    values = {"department": form.get("department", ""), "desk": form.get("desk", "new"),
              "desk_name": form.get("desk_name", ""), "number": form.get("number", ""),
              "roles": [r for r in desk_pages.ROLE_LABELS if form.get(f"role_{r}")],
              "menu": menu, "digit": form.get("digit") or (keys[0] if keys else ""), "keys": keys}
    for lang in _languages():
        values[f"keywords_{lang}"] = form.get(f"keywords_{lang}", "")
        values[f"menu_text_{lang}"] = form.get(f"menu_text_{lang}") or catalog.texts.get(lang, {}).get(prompt, "")
        for field in ("connecting", "voicemail"):
            values[f"{field}_{lang}"] = form.get(f"{field}_{lang}", "")
    return values


def _render(flow: str, edit: FlowEdit, status: int = 200, error: WizardError | None = None):
    clinic = desk_pages.current_clinic()
    return render_template("admin/department_wizard.html", name=flow, clinic=clinic, languages=_languages(),
                           suggested={k: v.format(name="the pharmacy") for k, v in SUGGESTED.items()},
                           menus=menus(edit), v=_form_values(request.form, edit, flow), error=error,
                           role_labels=desk_pages.ROLE_LABELS), status


def _open(flow: str) -> FlowEdit:
    try:
        return FlowEdit(draft_text(flow))
    except EditError:
        abort(409, description="The flow's draft cannot be read; fix it in the YAML view first.")


@bp.get("/add-department")
@role_required("admin")
def department_wizard_default():
    """The wizard for the flow that answers the clinic's calls (the default flow)."""
    return redirect(url_for("admin.department_wizard", name=desk_pages.current_clinic().default_flow))


@bp.get("/flows/<name>/add-department")
@role_required("admin")
def department_wizard(name: str):
    require_flow(name)
    record(actions.VIEW_ADMIN, target=f"flow:{name}", detail="add a department")
    return _render(name, _open(name))


@bp.post("/flows/<name>/add-department")
@role_required("admin")
def add_department(name: str):
    require_flow(name)
    svc = services.get()
    who = current_user().name
    edit = _open(name)
    catalog = draft_catalog(name)
    known = set().union(*(set(t) for t in catalog.texts.values()))
    try:
        plan = read_plan(request.form, edit, name)
        menu_prompt = str(edit.node(plan.menu).get("prompt"))
        menu_uses = prompt_pages._uses(menu_prompt, draft_of=name)  # where the menu's words are played already
        for field, texts, uses in (("menu_text", plan.menu_texts, menu_uses), ("connecting", plan.connecting, []),
                                   ("voicemail", plan.voicemail, [])):  # every text, before anything is kept
            for lang, text in texts.items():
                problem = text_problem(text, uses)
                if problem:
                    raise WizardError(f"{_languages()[lang]}: {problem}.", f"{field}_{lang}")
        connecting = _free(f"connecting_{plan.desk_key}", known)
        voicemail = _free(f"voicemail_{plan.desk_key}", known | {connecting})
        to_desk = add_steps(edit, plan, connecting, voicemail)
        if plan.new_desk is not None:  # the settings check first, without writing
            desk_pages.add_desk(plan.new_desk, write=False)
    except desk_pages.DeskError as exc:
        field = {"name": "desk_name"}.get(exc.field, exc.field)
        return _render(name, _open(name), 422, WizardError(str(exc), field))
    except (WizardError, EditError) as exc:
        return _render(name, _open(name), 422, exc if isinstance(exc, WizardError) else WizardError(str(exc)))
    except ClinicConfigError as exc:
        return _render(name, _open(name), 422, WizardError(desk_pages.refused(exc)))
    try:
        if plan.new_desk is not None:
            desk_pages.add_desk(plan.new_desk)
            desk_pages.announce()
            record(actions.DESK_ADD, target=f"desk:{plan.desk_key}", detail=f"{plan.new_desk.name}, {plan.new_desk.number}, "
                   f"roles {','.join(plan.new_desk.roles) or 'none'} (add a department)")
        for prompt_id, texts in ((connecting, plan.connecting), (voicemail, plan.voicemail), (menu_prompt, plan.menu_texts)):
            save_prompt_to_draft(name, prompt_id, texts, who)
    except ClinicConfigError as exc:
        return _render(name, _open(name), 422, WizardError(desk_pages.refused(exc)))
    except PromptRefused as exc:  # checked above: only a change made meanwhile by someone else gets here
        added = f"The desk {plan.new_desk.name} was added, but the rest was not: " if plan.new_desk else ""
        return _render(name, _open(name), 422, WizardError(f"{added}{exc}."))
    text = edit.text()
    issues = check(name, text)[1]
    svc.flow_versions.save_draft(name, text, who, issues)
    record(actions.DEPARTMENT_ADD, target=f"flow:{name}",
           detail=f"{plan.name}: key {plan.digit} in {plan.menu} -> {to_desk} (desk {plan.desk_key}); prompts {connecting}, "
                  f"{voicemail}, {menu_prompt}; {len(issues)} problems")
    flash(f"{plan.name.capitalize()} is in the draft as key {plan.digit} of {plan.menu}: check the new steps in the "
          "picture, try it, then publish. Callers hear nothing of it before you publish.", "info")
    return redirect(url_for("admin.flow", name=name, node=to_desk))


__all__ = ["add_steps", "free_keys", "read_plan"]
