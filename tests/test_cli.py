"""The console script: serve's start-up errors, and help for every command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.cli import main

SERVE = [sys.executable, "-m", "bot", "--port", "0"]


def _env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELF_HEAL_")}
    env["SELF_HEAL_CREDENTIALS_FILE"] = str(tmp_path / "none.json")
    env["SELF_HEAL_DATABASE"] = str(tmp_path / "db.sqlite3")
    env.update(extra)
    return env


def test_serve_stops_with_one_line_naming_a_missing_setting(tmp_path):
    done = subprocess.run(
        SERVE,
        env=_env(tmp_path, SELF_HEAL_APP_ID="12"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "SELF_HEAL_PRIVATE_KEY" in done.stderr


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["demo"], ["scan"], ["keys"], ["config", "check"]]
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    assert "usage: self-heal" in capsys.readouterr().out


def test_config_check_names_the_key_and_why(tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text("log_groups: [a]\nmax_files: 0\n")
    assert main(["config", "check", str(bad)]) == 1
    assert capsys.readouterr().err == (
        f"self-heal config: {bad}: max_files: must be a whole number of 1 or more\n"
    )


def test_config_check_passes_a_good_file_with_warnings(tmp_path, capsys):
    good = tmp_path / "good.yml"
    good.write_text("log_groups: [/aws/lambda/a]\ncolour: blue\n")
    assert main(["config", "check", str(good)]) == 0
    out = capsys.readouterr()
    assert "log groups: /aws/lambda/a" in out.out
    assert "colour: unknown key" in out.err


def test_a_database_that_cannot_open_is_one_line(tmp_path, monkeypatch, capsys):
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("shopping list\n")
    monkeypatch.setenv("SELF_HEAL_DATABASE", str(not_a_database))
    assert main(["keys", "create", "--installation", "3"]) == 2
    err = capsys.readouterr().err
    assert err == f"self-heal keys: cannot open the database {not_a_database}: " + (
        "file is not a database\n"
    )


def test_a_bad_port_is_named_without_internal_names(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--port", "abc"])
    assert "'abc' is not a port" in capsys.readouterr().err
