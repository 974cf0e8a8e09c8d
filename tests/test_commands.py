"""Reading commands from comment bodies, and who counts as a bot (no I/O)."""

from __future__ import annotations

import pytest

from bot.events.commands import Command, Source, Verb, is_bot, read_commands


def test_a_retry_line_with_feedback():
    assert read_commands("/retry use a default instead") == [
        Command(Verb.RETRY, "use a default instead")
    ]


def test_a_retry_takes_the_following_lines_as_feedback():
    body = "Thanks!\n/retry keep the KeyError\nbut log it\n\nfirst.\n/help"
    assert read_commands(body) == [
        Command(Verb.RETRY, "keep the KeyError\nbut log it\n\nfirst."),
        Command(Verb.HELP, ""),
    ]


@pytest.mark.parametrize("typed", ["/Retry", "/RETRY", "  /Help"])
def test_commands_are_read_in_any_case(typed):
    """A phone capitalises the first letter of a comment."""
    (command,) = read_commands(f"{typed} please")
    assert command.verb in (Verb.RETRY, Verb.HELP)


def test_a_bare_retry_has_no_feedback():
    assert read_commands("/retry") == [Command(Verb.RETRY, "")]


@pytest.mark.parametrize("verb", ["ignore", "unignore", "help"])
def test_the_other_verbs(verb):
    assert read_commands(f"/{verb}\r\n") == [Command(Verb(verb), "")]


@pytest.mark.parametrize(
    "body",
    [
        "",
        None,
        "please /retry this",  # not at the start of the line
        "> /retry from an earlier comment",  # quoted
        "```\n/retry\n```",  # fenced
        "~~~\n/ignore\n~~~",
        "    /retry",  # four spaces: a Markdown code block
        "/retry-later",
        "/helpful",
        "/ignored",
    ],
)
def test_lines_that_are_not_commands(body):
    assert read_commands(body) == []


def test_a_command_after_a_fence_counts():
    body = "```\n/ignore\n```\n/help"
    assert read_commands(body) == [Command(Verb.HELP, "")]


def test_retry_feedback_keeps_its_code_fence():
    body = "/retry like this:\n```python\nx = 1\n```"
    (command,) = read_commands(body)
    assert command.text == "like this:\n```python\nx = 1\n```"


def test_a_retry_indented_by_up_to_three_spaces_counts():
    assert read_commands("   /retry now") == [Command(Verb.RETRY, "now")]


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"login": "octocat", "type": "User"}, False),
        ({"login": "dependabot[bot]", "type": "Bot"}, True),
        ({"login": "self-healing-code[bot]", "type": "User"}, True),
        ({"login": "ci-helper", "type": "Bot"}, True),
    ],
)
def test_is_bot(user, expected):
    assert is_bot(user) is expected


def test_a_source_survives_the_job_payload():
    source = Source("line", 7, path="a.py", line=3, diff_hunk="@@", thread_root=5)
    assert Source(**source.to_dict()) == source
