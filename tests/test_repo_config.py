import pytest

from bot.repo_config import ConfigError, load_yaml, merge, parse_config


def test_full_config_reads_every_key():
    config, warnings = parse_config(
        load_yaml(
            """
log_groups:
  - /aws/lambda/a
  - name: /ecs/b
    path_map: {"/usr/src/app/": "svc/"}
path_map: {"/var/task/": ""}
base_branch: develop
labels: [bug, auto]
draft: false
reviewers: [alice]
max_files: 2
paths: ["src/**"]
ignore:
  types: [TimeoutError]
  messages: ["^Task timed out"]
model: some-model
"""
        )
    )
    assert warnings == []
    assert [g.name for g in config.log_groups] == ["/aws/lambda/a", "/ecs/b"]
    assert config.path_map_for("/ecs/b") == {"/usr/src/app/": "svc", "/var/task/": ""}
    assert config.base_branch == "develop" and config.draft is False
    assert config.may_edit("src/x.py") and not config.may_edit("setup.py")
    assert config.ignores("asyncio.TimeoutError", None)
    assert config.ignores("X", "Task timed out after 3s")
    assert not config.ignores("KeyError", "'a'")


def test_round_trip_through_to_dict():
    config, _ = parse_config({"log_groups": ["g"], "labels": ["x"]})
    again, _ = parse_config(config.to_dict())
    assert again == config


def test_unknown_keys_warn_but_do_not_fail():
    config, warnings = parse_config({"log_groups": ["g"], "colour": "blue"})
    assert config.log_groups[0].name == "g"
    assert warnings == [".github/self-healing.yml: colour: unknown key, ignored"]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"log_groups": "g"}, "log_groups"),
        ({"log_groups": [3]}, "log_groups[0]"),
        ({"max_files": 0}, "max_files"),
        ({"draft": "yes"}, "draft"),
        ({"labels": [1]}, "labels"),
        ({"ignore": {"messages": ["("]}}, "ignore.messages"),
        ({"path_map": ["x"]}, "path_map"),
    ],
)
def test_invalid_values_name_their_key(data, key):
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.key == key


def test_yaml_errors_name_the_line():
    with pytest.raises(ConfigError, match="line"):
        load_yaml("log_groups: [a\nb: c")


def test_org_defaults_are_extended_by_the_repo():
    merged = merge(
        {"labels": ["org"], "draft": False}, {"_extends": ".github", "draft": True}
    )
    assert merged == {"labels": ["org"], "draft": True}


def test_unknown_keys_inside_ignore_and_log_groups_warn():
    config, warnings = parse_config(
        {
            "log_groups": [{"name": "g", "pathmap": {}}],
            "ignore": {"type": ["KeyError"]},
        }
    )
    assert config.log_groups[0].name == "g"
    assert warnings == [
        ".github/self-healing.yml: ignore.type: unknown key, ignored",
        ".github/self-healing.yml: log_groups[0].pathmap: unknown key, ignored",
    ]


def test_a_blank_log_group_name_is_refused():
    with pytest.raises(ConfigError) as caught:
        parse_config({"log_groups": [{"name": "  "}]})
    assert caught.value.key == "log_groups[0]"


def test_ignore_may_be_a_plain_list_of_types():
    config, _ = parse_config({"log_groups": ["g"], "ignore": ["KeyError"]})
    assert config.ignores("KeyError", None)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.py", "setup.py", True),
        ("**/*.py", "src/app/x.py", True),
        ("**/*.py", "README.md", False),
        ("src/**", "src/a/b.py", True),
        ("src/**", "srcx/b.py", False),
        ("*.py", "setup.py", True),
    ],
)
def test_paths_match_like_gitignore(pattern, path, matches):
    config, _ = parse_config({"log_groups": ["g"], "paths": [pattern]})
    assert config.may_edit(path) is matches


def test_defaults_are_drafts_with_the_label():
    config, _ = parse_config({"log_groups": ["g"]})
    assert config.draft is True
    assert config.labels == ("self-healing",)
    assert config.max_files == 3
