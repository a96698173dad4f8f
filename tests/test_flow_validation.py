"""Flow validation: every rule names the file, the node and the line an administrator must fix.

Expected lines are never guessed: each test finds them in the YAML it writes,
either by a ``# MARK`` comment at the end of the line or by the node's header.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ivr.cli import main as cli
from ivr.clinic.settings import load_clinic
from ivr.flows import Environment, FlowInvalid, Issue, load_flow
from ivr.clinic.prompts import load_prompts
from ivr.clinic.runtime import check_all, environment

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
PROMPTS = ROOT / "prompts"
SOURCE = "config/flows/test_flow.yaml"


# Helpers ------------------------------------------------------------------


def shipped_env() -> Environment:
    return environment(load_clinic(CONFIG / "clinic.yaml"), load_prompts(PROMPTS))


ENV = shipped_env()


def custom_env(
    prompts: dict[str, set[str]],
    languages: set[str] = frozenset({"en", "es"}),
) -> Environment:
    desks = {"front_desk": "+12025550100", "nurse": "+12025550103"}
    return Environment(
        prompts={lang: frozenset(ids) for lang, ids in prompts.items()},
        desks=desks,
        departments=frozenset(desks),
        languages=frozenset(languages),
    )


def flow_text(nodes: str, *, start: str = "start", languages: str = "[en, es]", extra: str = "") -> str:
    """A flow file whose ``nodes:`` block is ``nodes`` (dedented, indented by two)."""
    body = textwrap.indent(textwrap.dedent(nodes).strip("\n"), "  ")
    return f"name: test\nstart: {start}\nlanguages: {languages}\n{extra}nodes:\n{body}\n"


def marked(text: str, mark: str = "MARK") -> int:
    """1-based line of the only line ending with ``# <mark>``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if line.rstrip().endswith(f"# {mark}")]
    assert len(hits) == 1, f"marker {mark!r} found on lines {hits}"
    return hits[0]


def node_line(text: str, node: str) -> int:
    """1-based line of the header of node ``node`` (a key indented by two under nodes:)."""
    pattern = re.compile(rf"^  {re.escape(node)}:(\s|$)")
    hits = [n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)]
    assert len(hits) == 1, f"node {node!r} found on lines {hits}"
    return hits[0]


def issues_of(text: str, env: Environment = ENV) -> list[Issue]:
    with pytest.raises(FlowInvalid) as info:
        load_flow(text, SOURCE, env)
    issues = info.value.issues
    assert issues, "FlowInvalid raised without any issue"
    return issues


def only_issue(issues: list[Issue], fragment: str) -> Issue:
    """The one issue whose message contains ``fragment`` (case-insensitive)."""
    hits = [i for i in issues if fragment.lower() in i.message.lower()]
    assert len(hits) == 1, f"expected one issue about {fragment!r}, got: {[str(i) for i in issues]}"
    return hits[0]


def assert_points_at(issue: Issue, line: int, node: str | None) -> None:
    """The issue as an administrator reads it: 'file:line: node 'x': message'."""
    assert issue.source == SOURCE
    assert issue.line == line, f"{issue} should point at line {line}"
    assert issue.node == node
    text = str(issue)
    assert text.startswith(f"{SOURCE}:{line}:"), text
    if node is None:
        assert "node '" not in text
    else:
        assert f"node '{node}'" in text


def assert_valid(text: str, env: Environment = ENV):
    try:
        return load_flow(text, SOURCE, env)
    except FlowInvalid as exc:  # pragma: no cover - shows the issues when a test fails
        pytest.fail(f"flow should be valid, got:\n{exc}")


BYE = "bye: {type: hangup, prompt: goodbye}"

VALID = flow_text(
    f"""
    start:
      type: menu
      prompt: main_menu
      options:
        - digit: 1
          keywords: {{en: [nurse], es: [enfermera]}}
          next: nurse
        - digit: 2
          keywords: [bye, adios]
          next: bye
      failure_prompt: menu_failure
      on_failure: nurse
    nurse:
      type: transfer
      desk: nurse
      prompt: connecting_nurse
      on_no_answer: message
    message:
      type: voicemail
      department: nurse
      prompt: voicemail_nurse
    {BYE}
    """
)


# The shipped configuration ----------------------------------------------------


def test_shipped_main_flow_is_valid_against_shipped_clinic_and_prompts():
    text = (CONFIG / "flows" / "main.yaml").read_text(encoding="utf-8")
    flow = load_flow(text, "config/flows/main.yaml", ENV)
    raw = yaml.safe_load(text)
    assert flow.name == raw["name"] == "main"
    assert flow.start == raw["start"]
    assert set(flow.nodes) == set(raw["nodes"])
    assert flow.languages == tuple(raw["languages"])
    assert flow.default_language == raw["default_language"]


def test_check_all_on_shipped_folders_reports_no_issue():
    _clinic, _prompts, report = check_all(CONFIG, PROMPTS)
    assert report.ok, [str(i) for i in report.issues]
    assert "main" in report.flows


def test_valid_flow_loads_and_remembers_node_lines():
    flow = assert_valid(VALID)
    assert flow.default_language == "en"  # first language when none is given
    for name in ("start", "nurse", "message", "bye"):
        assert flow.node_lines[name] == node_line(VALID, name)


def test_flow_version_changes_with_the_text():
    a = assert_valid(VALID)
    b = assert_valid(VALID.replace("prompt: connecting_nurse", "prompt: connecting_front_desk"))
    assert a.version == assert_valid(VALID).version
    assert a.version != b.version


# File-level problems --------------------------------------------------------


def test_yaml_syntax_error_names_its_line():
    text = flow_text(
        """
        start:
          type: hangup
         prompt: goodbye  # MARK
        """
    )
    [issue] = issues_of(text)
    assert "not valid YAML" in issue.message
    assert_points_at(issue, marked(text), None)


def test_node_defined_twice_is_a_syntax_error_at_the_second_definition():
    # Plain YAML would silently keep the second node; the admin must hear about it.
    text = flow_text(
        f"""
        start: {{type: say, prompts: [welcome], next: bye}}
        {BYE}
        start: {{type: hangup, prompt: goodbye}}  # MARK
        """
    )
    [issue] = issues_of(text)
    assert "duplicate" in issue.message and "start" in issue.message
    assert_points_at(issue, marked(text), None)


@pytest.mark.parametrize("text", ["- a\n- list\n", "just a string\n", ""], ids=["list", "scalar", "empty"])
def test_file_that_is_not_a_mapping(text):
    [issue] = issues_of(text)
    assert "mapping" in issue.message
    assert_points_at(issue, 1, None)


# Schema problems --------------------------------------------------------------


def test_unknown_node_type_names_node_and_known_types():
    text = flow_text(
        f"""
        start:
          type: sing  # MARK
          prompts: [welcome]
          next: bye
        {BYE}
        """
    )
    [issue] = issues_of(text)
    assert "'sing'" in issue.message
    for kind in ("say", "menu", "transfer", "voicemail", "hangup"):
        assert kind in issue.message
    # The node's header or its type line are both where the admin fixes it.
    assert issue.line in (node_line(text, "start"), marked(text))
    assert_points_at(issue, issue.line, "start")


def test_node_without_a_type():
    text = flow_text(
        f"""
        start:
          prompts: [welcome]
          next: bye
        {BYE}
        """
    )
    [issue] = issues_of(text)
    assert "needs a type" in issue.message and "hangup" in issue.message
    assert_points_at(issue, node_line(text, "start"), "start")


def test_node_that_is_not_a_mapping():
    text = flow_text(f"start: 5\n{BYE}")
    [issue] = issues_of(text)
    assert_points_at(issue, node_line(text, "start"), "start")


def test_node_names_must_be_lower_case_identifiers():
    text = flow_text("start: {type: goto, next: Bye}\nBye: {type: hangup, prompt: goodbye}")
    [issue] = issues_of(text)
    assert "lower-case" in issue.message
    assert_points_at(issue, node_line(text, "Bye"), "Bye")


def test_unknown_field_names_the_field_and_its_line():
    text = flow_text(
        f"""
        start:
          type: say
          prompts: [welcome]
          nxt: bye  # MARK
        {BYE}
        """
    )
    [issue] = issues_of(text)
    assert "nxt" in issue.message and "unknown field" in issue.message
    assert_points_at(issue, marked(text), "start")


def test_missing_required_field_menu_without_prompt():
    text = flow_text(
        f"""
        start:
          type: menu
          options:
            - {{digit: 1, next: bye}}
          on_failure: bye
        {BYE}
        """
    )
    [issue] = issues_of(text)
    assert issue.message.startswith("prompt:") and "missing" in issue.message
    assert_points_at(issue, node_line(text, "start"), "start")


def test_missing_required_field_voicemail_without_department():
    text = flow_text(
        """
        start:
          type: voicemail
          prompt: voicemail_nurse
        """
    )
    [issue] = issues_of(text)
    assert "department" in issue.message and "missing" in issue.message
    assert_points_at(issue, node_line(text, "start"), "start")


@pytest.mark.parametrize("digit", ["12", "x", "'12'", "'**'", "'a'"])
def test_bad_digit_names_value_and_line(digit):
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - digit: 1
              next: bye
            - digit: {digit}  # MARK
              next: bye
          on_failure: bye
        {BYE}
        """
    )
    [issue] = issues_of(text)
    value = digit.strip("'")
    assert repr(value) in issue.message
    assert "phone key" in issue.message
    assert "Value error" not in issue.message  # no library jargon for administrators
    assert_points_at(issue, marked(text), "start")


def test_several_schema_problems_are_reported_together():
    text = flow_text(
        f"""
        start:
          type: say
          prompts: [welcome]
          next: second
          colour: blue  # ONE
        second:
          type: menu
          prompt: main_menu
          options:
            - {{digit: 10, next: bye}}  # TWO
          on_failure: bye
        {BYE}
        """
    )
    issues = issues_of(text)
    assert len(issues) == 2
    assert_points_at(only_issue(issues, "colour"), marked(text, "ONE"), "start")
    assert_points_at(only_issue(issues, "'10'"), marked(text, "TWO"), "second")


# Targets and reachability --------------------------------------------------------

TARGET_CASES = {
    "menu option next": f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - digit: 1
              next: nowhere  # MARK
          on_failure: bye
        {BYE}
        """,
    "menu on_failure": f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - {{digit: 1, next: bye}}
          on_failure: nowhere  # MARK
        {BYE}
        """,
    "say next": """
        start:
          type: say
          prompts: [welcome]
          next: nowhere  # MARK
        """,
    "goto next": """
        start:
          type: goto
          next: nowhere  # MARK
        """,
    "transfer on_no_answer": """
        start:
          type: transfer
          desk: nurse
          on_no_answer: nowhere  # MARK
        """,
    "transfer on_busy": f"""
        start:
          type: transfer
          desk: nurse
          on_no_answer: bye
          on_busy: nowhere  # MARK
        {BYE}
        """,
    "hours closed": f"""
        start:
          type: hours
          open: bye
          closed: nowhere  # MARK
        {BYE}
        """,
    "hours holiday": f"""
        start:
          type: hours
          open: bye
          closed: bye
          holiday: nowhere  # MARK
        {BYE}
        """,
    "language next": """
        start:
          type: language
          prompt: language_offer
          options:
            - {language: en, digit: 1}
          next: nowhere  # MARK
        """,
}


@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_unknown_target_names_node_field_and_line(case):
    text = flow_text(TARGET_CASES[case])
    issues = issues_of(text)
    issue = only_issue(issues, "'nowhere'")
    assert "unknown node" in issue.message
    field = case.split()[-1]
    assert field in issue.message
    assert_points_at(issue, marked(text), "start")
    assert len(issues) == 1, [str(i) for i in issues]


def test_unreachable_nodes_are_reported_at_their_own_line():
    text = flow_text(
        f"""
        start: {{type: say, prompts: [welcome], next: bye}}
        {BYE}
        orphan: {{type: say, prompts: [welcome], next: orphan_bye}}
        orphan_bye: {{type: hangup, prompt: goodbye}}
        """
    )
    issues = issues_of(text)
    assert len(issues) == 2
    for name in ("orphan", "orphan_bye"):
        [issue] = [i for i in issues if i.node == name]
        assert "unreachable" in issue.message
        assert_points_at(issue, node_line(text, name), name)


def test_node_reachable_only_through_a_menu_option_is_reachable():
    assert_valid(VALID)  # 'bye' is reached only by pressing 2
    text = VALID.replace("next: bye\n", "next: nurse\n", 1)  # now nothing leads to 'bye'
    issue = only_issue(issues_of(text), "unreachable")
    assert_points_at(issue, node_line(text, "bye"), "bye")


# Menus: keys and keywords ---------------------------------------------------------


def test_duplicate_digits_in_a_menu():
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - digit: 1
              next: bye
            - digit: 2
              next: bye
            - digit: 1  # MARK
              next: bye
          on_failure: bye
        {BYE}
        """
    )
    [issue] = issues_of(text)
    assert "'1'" in issue.message and "1 and 3" in issue.message
    assert_points_at(issue, marked(text), "start")


@pytest.mark.parametrize(
    "repeat, digit",
    [(None, "'*'"), ("'#'", "'#'"), ("'0'", "0")],
    ids=["default-star", "custom-hash", "custom-zero"],
)
def test_digit_equal_to_the_repeat_key(repeat, digit):
    repeat_line = f"repeat_digit: {repeat}\n" if repeat else ""
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          {repeat_line}
          options:
            - digit: 1
              next: bye
            - digit: {digit}  # MARK
              next: bye
          on_failure: bye
        {BYE}
        """
    )
    [issue] = issues_of(text)
    assert "repeat key" in issue.message
    assert_points_at(issue, marked(text), "start")


def test_star_is_a_normal_option_when_the_repeat_key_is_moved():
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          repeat_digit: '#'
          options:
            - {{digit: '*', next: bye}}
          on_failure: bye
        {BYE}
        """
    )
    assert_valid(text)


@pytest.mark.parametrize(
    "first, second",
    [
        ("cita", "cita"),
        ("Cita", "cita"),
        ("médico", "Medico"),
        ("ESPAÑOL", "espanol"),
        ("front desk", "Front-Desk"),
    ],
)
def test_duplicate_spoken_keyword_across_options(first, second):
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - digit: 1
              keywords: [appointment, "{first}"]
              next: bye
            - digit: 2  # MARK
              keywords: [bill, "{second}"]
              next: bye
          on_failure: bye
        {BYE}
        """
    )
    issues = issues_of(text)
    issue = only_issue(issues, "keyword")  # reported once, not once per language
    assert second in issue.message and "1 and 2" in issue.message
    assert_points_at(issue, marked(text), "start")
    assert len(issues) == 1


@pytest.mark.parametrize("word, lang", [("one", "en"), ("uno", "es")])
def test_keyword_that_sounds_like_another_options_key(word, lang):
    """Spoken digits are matched first: 'one' on option 2 would send callers to option 1."""
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - digit: 1
              keywords: [appointment]
              next: bye
            - digit: 2  # MARK
              keywords: {{{lang}: [bill, {word}]}}
              next: bye
          on_failure: bye
        {BYE}
        """
    )
    issue = only_issue(issues_of(text), "sounds like")
    assert f"keyword '{word}' sounds like key 1, which is option 1" in issue.message
    assert_points_at(issue, marked(text), "start")


def test_keyword_naming_its_own_key_is_fine():
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - {{digit: 2, keywords: [two, bill], next: bye}}
          on_failure: bye
        {BYE}
        """
    )
    assert_valid(text)


def test_duplicate_keyword_within_one_language_of_per_language_keywords():
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - digit: 1
              keywords: {{en: [doctor], es: [cita]}}
              next: bye
            - digit: 2  # MARK
              keywords: {{en: [bill], es: [Cita]}}
              next: bye
          on_failure: bye
        {BYE}
        """
    )
    issue = only_issue(issues_of(text), "keyword")
    assert "Cita" in issue.message
    assert_points_at(issue, marked(text), "start")


def test_same_word_in_different_languages_is_not_a_duplicate():
    # "doctor" is English for option 1 and Spanish for option 2: a caller only
    # ever hears one language, so there is no ambiguity.
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - digit: 1
              keywords: {{en: [doctor], es: [enfermera]}}
              next: bye
            - digit: 2
              keywords: {{en: [nurse], es: [doctor]}}
              next: bye
          on_failure: bye
        {BYE}
        """
    )
    assert_valid(text)


def test_the_same_keyword_twice_in_one_option_is_harmless():
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - {{digit: 1, keywords: [cita, Cita], next: bye}}
          on_failure: bye
        {BYE}
        """
    )
    assert_valid(text)


def test_language_options_with_the_same_keyword():
    text = flow_text(
        f"""
        start:
          type: language
          prompt: language_offer
          options:
            - {{language: en, digit: 1, keywords: [english]}}
            - {{language: es, digit: 2, keywords: [English]}}  # MARK
          next: bye
        {BYE}
        """
    )
    issues = issues_of(text)
    issue = only_issue(issues, "keyword")
    assert_points_at(issue, marked(text), "start")
    assert len(issues) == 1


def test_option_without_digit_or_keywords_cannot_be_chosen():
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - {{digit: 1, next: bye}}
            - {{next: bye}}  # MARK
          on_failure: bye
        {BYE}
        """
    )
    issue = only_issue(issues_of(text), "neither a digit nor keywords")
    assert_points_at(issue, marked(text), "start")


# Prompts and languages ------------------------------------------------------------

ALL_PROMPTS = {
    "welcome", "main_menu", "no_input", "invalid_choice", "menu_failure", "goodbye",
    "language_offer", "connecting_nurse", "voicemail_nurse", "voicemail_thanks", "voicemail_empty",
}


def missing_langs(issue: Issue) -> list[str]:
    return issue.message.split("missing in ", 1)[1].split(", ")


def test_prompt_missing_in_an_enabled_language_names_only_that_language():
    env = custom_env({"en": ALL_PROMPTS, "es": ALL_PROMPTS - {"welcome"}})
    text = flow_text(
        f"""
        start: {{type: say, prompts: [welcome], next: bye}}
        {BYE}
        """
    )
    [issue] = issues_of(text, env)
    assert "'welcome'" in issue.message
    assert missing_langs(issue) == ["es"]
    assert_points_at(issue, node_line(text, "start"), "start")


def test_prompt_missing_in_every_language_names_them_all():
    env = custom_env({"en": ALL_PROMPTS - {"goodbye"}, "es": ALL_PROMPTS - {"goodbye"}})
    text = flow_text(f"start: {{type: say, prompts: [welcome], next: bye}}\n{BYE}")
    [issue] = issues_of(text, env)
    assert sorted(missing_langs(issue)) == ["en", "es"]
    assert_points_at(issue, node_line(text, "bye"), "bye")


def test_prompt_missing_in_a_language_the_flow_does_not_enable_is_fine():
    env = custom_env({"en": ALL_PROMPTS, "es": ALL_PROMPTS - {"welcome"}})
    text = flow_text(f"start: {{type: say, prompts: [welcome], next: bye}}\n{BYE}", languages="[en]")
    assert_valid(text, env)


def test_menu_needs_its_sorry_and_failure_prompts_too():
    env = custom_env({"en": ALL_PROMPTS, "es": ALL_PROMPTS - {"no_input", "menu_failure"}})
    text = VALID
    issues = issues_of(text, env)
    assert len(issues) == 2
    for prompt_id in ("no_input", "menu_failure"):
        issue = only_issue(issues, f"'{prompt_id}'")
        assert missing_langs(issue) == ["es"]
        assert_points_at(issue, node_line(text, "start"), "start")


def test_language_prompt_is_needed_only_in_the_languages_it_offers():
    env = custom_env({"en": ALL_PROMPTS, "es": ALL_PROMPTS - {"language_offer"}})
    offers_english_only = flow_text(
        f"""
        start:
          type: language
          prompt: language_offer
          options:
            - {{language: en, digit: 1}}
          next: bye
        {BYE}
        """
    )
    assert_valid(offers_english_only, env)

    offers_both = offers_english_only.replace(
        "- {language: en, digit: 1}", "- {language: en, digit: 1}\n      - {language: es, digit: 2}"
    )
    [issue] = issues_of(offers_both, env)
    assert "'language_offer'" in issue.message
    assert missing_langs(issue) == ["es"]
    assert_points_at(issue, node_line(offers_both, "start"), "start")


def test_language_option_not_enabled_by_the_flow():
    text = flow_text(
        f"""
        start:
          type: language
          prompt: language_offer
          options:
            - {{language: en, digit: 1}}
            - {{language: es, digit: 2}}  # MARK
          next: bye
        {BYE}
        """,
        languages="[en]",
    )
    [issue] = issues_of(text)
    assert "'es'" in issue.message and "does not enable" in issue.message
    assert_points_at(issue, marked(text), "start")


def test_language_not_configured_in_the_clinic():
    text = flow_text("start: {type: hangup, prompt: goodbye}", languages="[en, fr]  # MARK")
    [issue] = issues_of(text)
    assert "'fr'" in issue.message and "clinic" in issue.message
    assert_points_at(issue, marked(text), None)


def test_language_in_the_clinic_but_without_prompts():
    env = custom_env({"en": ALL_PROMPTS}, languages={"en", "es"})
    text = flow_text("start: {type: hangup, prompt: goodbye}", languages="[en, es]  # MARK")
    [issue] = issues_of(text, env)
    assert "'es'" in issue.message and "prompts" in issue.message
    assert_points_at(issue, marked(text), None)


def test_default_language_not_in_languages():
    text = flow_text("start: {type: hangup, prompt: goodbye}", extra="default_language: es  # MARK\n", languages="[en]")
    [issue] = issues_of(text)
    assert "'es'" in issue.message and "default_language" in issue.message
    assert_points_at(issue, marked(text), None)


def test_default_language_is_used_when_listed():
    flow = assert_valid(flow_text("start: {type: hangup, prompt: goodbye}", extra="default_language: es\n"))
    assert flow.default_language == "es"


def test_start_naming_no_node():
    text = flow_text("begin: {type: hangup, prompt: goodbye}", start="beginning  # MARK")
    [issue] = issues_of(text)
    assert "'beginning'" in issue.message and "start" in issue.message
    assert_points_at(issue, marked(text), None)


# Loops -------------------------------------------------------------------------------


def test_loop_with_no_caller_input_say_goto_say():
    text = flow_text(
        """
        start: {type: say, prompts: [welcome], next: again}
        again: {type: goto, next: start}
        """
    )
    [issue] = issues_of(text)
    assert "loop with no caller input" in issue.message
    assert "start" in issue.message and "again" in issue.message
    assert_points_at(issue, node_line(text, issue.node), issue.node)


def test_loop_through_transfer_no_answer_and_menu_failure():
    # Nobody answers -> menu; the caller stays silent -> on_failure -> the same
    # transfer again: a silent caller would go round forever.
    text = flow_text(
        """
        start:
          type: transfer
          desk: front_desk
          on_no_answer: retry_menu
        retry_menu:
          type: menu
          prompt: main_menu
          options:
            - {digit: 1, next: start}
          on_failure: start
        """
    )
    [issue] = issues_of(text)
    assert "loop with no caller input" in issue.message
    assert "start" in issue.message and "retry_menu" in issue.message
    assert issue.node in ("start", "retry_menu")
    assert_points_at(issue, node_line(text, issue.node), issue.node)


def test_loop_with_a_hours_node_and_goto():
    text = flow_text(
        """
        start: {type: hours, open: back, closed: back}
        back: {type: goto, next: start}
        """
    )
    issue = only_issue(issues_of(text), "loop with no caller input")
    assert issue.node in ("start", "back")


def test_loop_through_a_menu_option_is_allowed():
    # Pressing 9 says something and comes back to the menu: each round needs a key press.
    text = flow_text(
        f"""
        start:
          type: menu
          prompt: main_menu
          options:
            - {{digit: 1, next: bye}}
            - {{digit: 9, keywords: [again], next: info}}
          on_failure: bye
        info: {{type: say, prompts: [welcome], next: start}}
        {BYE}
        """
    )
    assert_valid(text)


# Paths that end in silence ---------------------------------------------------

SILENCE_CASES = {
    "say without next": "start: {type: say, prompts: [welcome]}",
    "goto without next": "start: {type: goto}",
    "hours without open": f"start: {{type: hours, closed: bye}}\n{BYE}",
    "hours without closed": f"start: {{type: hours, open: bye}}\n{BYE}",
    "menu without on_failure": f"start: {{type: menu, prompt: main_menu, options: [{{digit: 1, next: bye}}]}}\n{BYE}",
    "menu option without next": f"start: {{type: menu, prompt: main_menu, options: [{{digit: 1}}], on_failure: bye}}\n{BYE}",
    "language without next": "start: {type: language, prompt: language_offer, options: [{language: en, digit: 1}]}",
    "transfer without on_no_answer": "start: {type: transfer, desk: nurse}",
    "hangup without a goodbye prompt": "start: {type: hangup}",
}


@pytest.mark.parametrize("case", list(SILENCE_CASES))
def test_every_path_that_ends_in_silence(case):
    text = flow_text(SILENCE_CASES[case])
    [issue] = issues_of(text)
    assert issue.message.startswith("path ends in silence")
    assert_points_at(issue, node_line(text, "start"), "start")


def test_silence_messages_tell_which_way_is_missing():
    messages = {}
    for case in ("hours without open", "hours without closed", "transfer without on_no_answer"):
        [issue] = issues_of(flow_text(SILENCE_CASES[case]))
        messages[case] = issue.message
    assert "opening hours" in messages["hours without open"]
    assert "after hours" in messages["hours without closed"]
    assert "on_no_answer" in messages["transfer without on_no_answer"]


def test_optional_ways_out_may_be_left_out():
    # No holiday branch (holidays use 'closed'), no on_busy (busy uses on_no_answer),
    # a voicemail needs nothing after it.
    text = flow_text(
        """
        start: {type: hours, open: desk, closed: message}
        desk: {type: transfer, desk: nurse, on_no_answer: message}
        message: {type: voicemail, prompt: voicemail_nurse, department: nurse}
        """
    )
    assert_valid(text)


# Transfers and voicemail ---------------------------------------------------------------


def test_unknown_desk_names_known_desks():
    text = flow_text(
        f"""
        start:
          type: transfer
          desk: lab  # MARK
          on_no_answer: bye
        {BYE}
        """
    )
    [issue] = issues_of(text)
    assert "'lab'" in issue.message and "front_desk" in issue.message
    assert_points_at(issue, marked(text), "start")


@pytest.mark.parametrize("number", ["'+1202'", "'12025550100'", "'not a number'", "'+99912345678'"])
def test_invalid_phone_number_on_a_transfer(number):
    text = flow_text(
        f"""
        start:
          type: transfer
          number: {number}  # MARK
          on_no_answer: bye
        {BYE}
        """
    )
    [issue] = issues_of(text)
    assert number.strip("'") in issue.message and "E.164" in issue.message
    assert_points_at(issue, marked(text), "start")


def test_valid_phone_number_on_a_transfer():
    text = flow_text(f"start: {{type: transfer, number: '+12025550199', on_no_answer: bye}}\n{BYE}")
    assert_valid(text)


@pytest.mark.parametrize(
    "fields", ["desk: nurse, number: '+12025550100'", "prompt: connecting_nurse"], ids=["both", "neither"]
)
def test_transfer_needs_exactly_one_of_desk_or_number(fields):
    text = flow_text(f"start: {{type: transfer, {fields}, on_no_answer: bye}}\n{BYE}")
    [issue] = issues_of(text)
    assert "exactly one of desk or number" in issue.message
    assert_points_at(issue, node_line(text, "start"), "start")


def test_unknown_voicemail_department():
    text = flow_text(
        """
        start:
          type: voicemail
          prompt: voicemail_nurse
          department: lab  # MARK
        """
    )
    [issue] = issues_of(text)
    assert "'lab'" in issue.message and "department" in issue.message and "nurse" in issue.message
    assert_points_at(issue, marked(text), "start")


# Many problems at once -----------------------------------------------------------


def test_several_issues_are_reported_together():
    text = flow_text(
        """
        start:
          type: menu
          prompt: main_menu
          options:
            - {digit: 1, next: desk}
            - {digit: 1, next: message}  # DIGIT
          on_failure: desk
        desk:
          type: transfer
          desk: lab  # DESK
          on_no_answer: message
        message:
          type: voicemail
          prompt: voicemail_nurse
          department: nurse
        lost: {type: hangup}
        """,
        extra="default_language: fr  # LANG\n",
    )
    with pytest.raises(FlowInvalid) as info:
        load_flow(text, SOURCE, ENV)
    issues = info.value.issues
    assert_points_at(only_issue(issues, "default_language"), marked(text, "LANG"), None)
    assert_points_at(only_issue(issues, "digit '1'"), marked(text, "DIGIT"), "start")
    assert_points_at(only_issue(issues, "unknown desk"), marked(text, "DESK"), "desk")
    assert_points_at(only_issue(issues, "goodbye prompt"), node_line(text, "lost"), "lost")
    assert_points_at(only_issue(issues, "unreachable"), node_line(text, "lost"), "lost")
    assert len(issues) == 5
    # The exception text lists every issue, one per line.
    assert str(info.value).splitlines() == [str(i) for i in issues]


# The `ivr flows check` command ------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(CONFIG, tmp_path / "config")
    shutil.copytree(PROMPTS, tmp_path / "prompts")
    return tmp_path


def run_check(site: Path, *args: str):
    runner = CliRunner()
    return runner.invoke(
        cli,
        ["flows", "check", "--config-dir", str(site / "config"), "--prompts-dir", str(site / "prompts"), *args],
    )


def test_cli_check_passes_on_the_shipped_configuration(site):
    result = run_check(site)
    assert result.exit_code == 0, result.output
    assert "ok:" in result.stdout and "'main'" in result.stdout
    assert "error" not in result.output


def test_cli_check_fails_on_a_broken_flow_with_file_and_line(site):
    path = site / "config" / "flows" / "main.yaml"
    text = path.read_text(encoding="utf-8")
    target = "    desk: billing\n    prompt: connecting_billing\n"  # the to_billing transfer
    assert text.count(target) == 1
    broken = text.replace(target, "    desk: billings  # MARK\n    prompt: connecting_billing\n")
    path.write_text(broken, encoding="utf-8")
    result = run_check(site)
    assert result.exit_code == 1
    assert f"{path}:{marked(broken)}:" in result.stderr
    assert "node 'to_billing'" in result.stderr and "'billings'" in result.stderr
    assert "flow 'main'" not in result.stdout  # (the shipped follow-up flow is still ok)


def test_cli_check_of_one_file_reports_only_that_file(site):
    good = site / "config" / "flows" / "main.yaml"
    bad = site / "config" / "flows" / "other.yaml"
    bad.write_text(flow_text("start: {type: goto}"), encoding="utf-8")
    only_good = run_check(site, str(good))
    assert only_good.exit_code == 0, only_good.output
    folder = run_check(site)
    assert folder.exit_code == 1
    assert f"{bad}:{node_line(bad.read_text(), 'start')}:" in folder.stderr
    assert "ok:" in folder.stdout and "'main'" in folder.stdout  # the good flow is still reported


def test_cli_check_fails_on_a_broken_clinic_file(site):
    clinic = site / "config" / "clinic.yaml"
    text = clinic.read_text(encoding="utf-8").replace("timezone: America/New_York", "timezone: Mars/Olympus")
    clinic.write_text(text, encoding="utf-8")
    result = run_check(site)
    assert result.exit_code == 1
    assert f"{clinic}:" in result.stderr and "Mars/Olympus" in result.stderr


def test_a_menu_choice_that_switches_to_a_language_the_flow_does_not_enable_is_refused_at_its_line():
    text = flow_text(
        """
        start:
          type: menu
          prompt: main_menu
          options:
            - {digit: 1, next: bye}
            - {digit: 9, language: fr, next: bye}   # MARK
          on_failure: bye
        bye:
          type: hangup
          prompt: goodbye
        """
    )
    issue = only_issue(issues_of(text), "switches to language 'fr'")
    assert_points_at(issue, marked(text), "start")
