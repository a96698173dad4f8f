"""The hours, holidays and number assignment kept with each published version of a flow: snapshots
(``FlowStore.keep_settings``), the diff between two in words, and what a rollback brings back."""

from __future__ import annotations

from ivr import services


def settings_snapshot() -> dict:
    """The hours, holidays and number assignment live now, kept with a published version for its diff
    and its rollback."""
    clinic = services.get().runtime.clinic
    return {
        "hours": {day: list(spans) for day, spans in clinic.hours.items()},
        "holidays": {h.date.isoformat(): {"name": h.name, "hours": list(h.hours)} for h in clinic.holidays},
        "default_flow": clinic.default_flow,
        "numbers": dict(clinic.flows_by_number),
    }


def _holiday_words(holiday: dict | str) -> str:
    """A kept holiday in words (versions kept before holidays were kept whole hold these words already)."""
    if isinstance(holiday, str):
        return holiday
    return holiday["name"] + (f" (open {', '.join(holiday['hours'])})" if holiday.get("hours") else "")


def settings_to_restore(name: str, kept: dict | None) -> tuple[dict | None, dict | None]:
    """(hours, numbers) that bring back what was live with a kept snapshot of flow ``name``, as
    ``publish_with_prompts`` takes them; None for a part that is as it was (or not known).

    Hours and holidays are the clinic's: all of them come back. Of the numbers, only what concerns
    this flow: the default flow and each number that this flow answered then or answers now (another
    flow's own numbers are that flow's to roll back), and only towards a flow that can answer now.
    """
    if not kept:
        return None, None
    now = settings_snapshot()
    hours = None
    holidays = kept.get("holidays", {})
    known = all(isinstance(h, dict) for h in holidays.values())  # older snapshots kept only the words
    if kept.get("hours") != now["hours"] or (known and holidays != now["holidays"]):
        listed = holidays if known else now["holidays"]
        hours = {"hours": kept.get("hours") or now["hours"],
                 "holidays": [{"date": d, "name": h["name"], "hours": list(h.get("hours") or [])} for d, h in sorted(listed.items())]}
    svc = services.get()
    answering = (set(svc.flow_versions.live()) | set(svc.runtime.flows.names) | {name}) - {svc.runtime.clinic.followups.flow}
    default = now["default_flow"]
    if kept.get("default_flow") != default and name in (kept.get("default_flow"), default) \
            and kept.get("default_flow") in answering:
        default = kept["default_flow"]
    mapping = dict(now["numbers"])
    then = kept.get("numbers", {})
    for number in set(then) | set(mapping):
        old, new = then.get(number), mapping.get(number)
        if old != new and name in (old, new) and (old is None or old in answering):
            if old is None:
                del mapping[number]
            else:
                mapping[number] = old
    numbers = {"default_flow": default, "numbers": mapping} \
        if (default, mapping) != (now["default_flow"], now["numbers"]) else None
    return hours, numbers


def settings_diff(before: dict | None, after: dict | None) -> list[str]:
    """What changed in hours, holidays and numbers between two kept snapshots, in words."""
    if not before or not after:
        return []
    out = []
    for day, spans in after.get("hours", {}).items():
        old = before.get("hours", {}).get(day)
        if old is not None and old != spans:
            out.append(f"{day.capitalize()}: {', '.join(old) or 'closed'} → {', '.join(spans) or 'closed'}")
    old_h = {d: _holiday_words(h) for d, h in before.get("holidays", {}).items()}
    new_h = {d: _holiday_words(h) for d, h in after.get("holidays", {}).items()}
    out += [f"Holiday added: {d} {new_h[d]}" for d in sorted(set(new_h) - set(old_h))]
    out += [f"Holiday removed: {d} {old_h[d]}" for d in sorted(set(old_h) - set(new_h))]
    out += [f"Holiday {d}: {old_h[d]} → {new_h[d]}" for d in sorted(set(old_h) & set(new_h)) if old_h[d] != new_h[d]]
    if before.get("default_flow") != after.get("default_flow"):
        out.append(f"Default flow for the clinic's numbers: {before.get('default_flow')} → {after.get('default_flow')}")
    old_n, new_n = before.get("numbers", {}), after.get("numbers", {})
    for number in sorted(set(old_n) | set(new_n)):
        if old_n.get(number) != new_n.get(number):
            out.append(f"Number {number}: {old_n.get(number) or 'default flow'} → {new_n.get(number) or 'default flow'}")
    return out
