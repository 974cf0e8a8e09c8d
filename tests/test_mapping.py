"""Frames to repository paths, on the paths of the real traceback cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.fixing.mapping import PathIndex
from bot.fixing.pipeline import frame_sites
from bot.tracebacks import Traceback
from bot.tracebacks.parse import find_tracebacks

CASES = Path(__file__).parent / "cases" / "tracebacks"


def case_frames(case: str) -> list[tuple[str | None, bool]]:
    """(file, in_app) of every frame of the case, as the parser reads them."""
    (folder,) = CASES.glob(f"{case}-*")
    text = (folder / "input.log").read_text(encoding="utf-8")
    frames = []
    for found in find_tracebacks(text):
        for block in found.traceback.blocks:
            if block.syntax_error is not None:
                frames.append((block.syntax_error.file, True))
            frames.extend((f.file, f.in_app) for f in block.frames)
    return frames


def in_app_files(case: str) -> list[str]:
    return list(dict.fromkeys(f for f, in_app in case_frames(case) if f and in_app))


# (case, repository tree, {runtime path: expected repository path})
REAL_CASES = [
    (
        "001",  # Lambda zip root
        ["scan.py", "tests/test_scan.py", "README.md"],
        {"/var/task/scan.py": "scan.py"},
    ),
    (
        "009",  # Lambda layers under /opt/python
        [
            "layers/common/python/spine_aws_common/lambda_application.py",
            "lambdas/lr_02_validate_and_parse/lr_02_lambda_handler.py",
            "lambdas/lr_02_validate_and_parse/tests/test_handler.py",
        ],
        {
            "/opt/python/spine_aws_common/lambda_application.py": (
                "layers/common/python/spine_aws_common/lambda_application.py"
            ),
            "/opt/python/lr_02_validate_and_parse/lr_02_lambda_handler.py": (
                "lambdas/lr_02_validate_and_parse/lr_02_lambda_handler.py"
            ),
        },
    ),
    (
        "014",  # macOS home directory
        [
            "arches/app/tasks.py",
            "arches/app/etl_modules/branch_excel_exporter.py",
            "arches/management/commands/etl_template.py",
            "arches/app/etl_modules/tasks.py",
        ],
        {
            "/Users/user/prj/arches/arches/app/tasks.py": "arches/app/tasks.py",
            "/Users/user/prj/arches/arches/app/etl_modules/branch_excel_exporter.py": (
                "arches/app/etl_modules/branch_excel_exporter.py"
            ),
            "/Users/user/prj/arches/arches/management/commands/etl_template.py": (
                "arches/management/commands/etl_template.py"
            ),
        },
    ),
    (
        "017",  # Windows path
        ["cogs/scheduler.py", "cogs/utils/checks.py", "red.py"],
        {
            "C:\\Users\\user\\Documents\\Red-DiscordBot\\cogs\\scheduler.py": (
                "cogs/scheduler.py"
            )
        },
    ),
    (
        "019",  # Windows drive letter, case differs from the repository
        ["Codi/moduls/QvGitHub.py", "Codi/qVista.py"],
        {"d:\\Dropbox\\qVista\\Codi\\moduls\\QvGithub.py": "Codi/moduls/QvGitHub.py"},
    ),
    (
        "021",  # Linux home directory, Django project
        ["mysite/polls/views.py", "mysite/polls/models.py", "mysite/blog/views.py"],
        {"/home/user/mycode/mysite/polls/views.py": "mysite/polls/views.py"},
    ),
    (
        "025",  # Docker /code
        ["manage.py", "project/settings.py", "project/manage.py.orig"],
        {"/code/manage.py": "manage.py"},
    ),
    (
        "031",  # relative `./` path
        ["sigexport.py", "README.md"],
        {"./sigexport.py": "sigexport.py"},
    ),
    (
        "037",  # relative bare name, run from the repository root
        ["query.py", "tools/query.py"],
        {"query.py": "query.py"},
    ),
    (
        "045",  # relative and home-directory frames of one app
        ["spider.py", "dcard/posts.py", "dcard/forums.py", "tests/test_posts.py"],
        {
            "spider.py": "spider.py",
            "/home/user/workspace/dcard-spider/dcard/posts.py": "dcard/posts.py",
        },
    ),
]


@pytest.mark.parametrize(("case", "tree", "expected"), REAL_CASES)
def test_real_case_in_app_frames_map(case, tree, expected):
    # Given the frames the parser reads from the real log
    files = in_app_files(case)
    assert set(expected) <= set(files)
    # When each maps into the case's repository tree
    index = PathIndex(tree)
    got = {f: index.map(f, {}) for f in files}
    # Then the expected ones land and the rest map nowhere
    assert got == {f: expected.get(f) for f in files}


def test_lambda_frames_under_src_map_by_path_map_first():
    index = PathIndex(["src/app.py", "app.py", "tests/app.py"])
    assert index.map("/var/task/app.py", {"/var/task": "src"}) == "src/app.py"
    assert index.map("/var/task/app.py", {}) == "app.py"


def test_path_map_prefix_ends_at_a_folder_boundary():
    index = PathIndex(["web/views.py", "apple/views.py"])
    assert index.map("/apple/views.py", {"/app": "web"}) == "apple/views.py"
    assert index.map("/app/views.py", {"/app/": "web/"}) == "web/views.py"


def test_longest_path_map_prefix_wins():
    index = PathIndex(["lib/util.py", "svc/lib/util.py"])
    path_map = {"/srv": "svc", "/srv/shared/lib": "lib"}
    assert index.map("/srv/shared/lib/util.py", path_map) == "lib/util.py"


def test_windows_path_map_is_case_blind():
    index = PathIndex(["bot/cogs/scheduler.py"])
    path_map = {"C:\\Users\\user\\Documents\\Red-DiscordBot": "bot"}
    frame = "c:\\users\\user\\documents\\red-discordbot\\cogs\\scheduler.py"
    assert index.map(frame, path_map) == "bot/cogs/scheduler.py"


def test_longest_suffix_wins_over_shorter_ones():
    index = PathIndex(["api/handlers/orders.py", "jobs/orders.py", "orders.py"])
    frame = "/usr/src/app/api/handlers/orders.py"
    assert index.map(frame, {}) == "api/handlers/orders.py"


def test_among_equal_suffixes_the_one_matched_to_the_root_wins():
    index = PathIndex(["usr/app/handlers/orders.py", "handlers/orders.py"])
    frame = "/usr/src/app/svc/handlers/orders.py"
    assert index.map(frame, {}) == "handlers/orders.py"


def test_bare_name_maps_only_when_unique():
    assert PathIndex(["pkg/views.py"]).map("/srv/www/views.py", {}) == "pkg/views.py"
    index = PathIndex(["a/views.py", "b/views.py"])
    assert index.map("/srv/www/views.py", {}) is None


def test_a_generic_file_name_is_never_a_bare_match():
    """Case 006: /var/task/chalice/__init__.py is a vendored package; a lone
    __init__.py of the repository must not be taken for it."""
    index = PathIndex(["myapp/__init__.py", "app.py"])
    assert index.map("/var/task/chalice/__init__.py", {}) is None
    assert index.map("/var/task/app.py", {}) == "app.py"


def test_equal_suffixes_are_ambiguous():
    index = PathIndex(["svc_a/app/models.py", "svc_b/app/models.py"])
    assert index.map("/usr/src/app/app/models.py", {}) is None


def test_vendored_copies_in_the_repository_are_never_targets():
    index = PathIndex(["vendor/requests/models.py", "venv/lib/x/models.py"])
    assert index.map("/var/task/requests/models.py", {}) is None


def test_frames_that_map_nowhere_add_no_sites():
    # Case 046: only a site-packages Django frame; the repository is not Django.
    (found,) = find_tracebacks(
        next(CASES.glob("046-*")).joinpath("input.log").read_text(encoding="utf-8")
    )
    index = PathIndex(["mysite/settings.py", "manage.py"])
    assert frame_sites(found.traceback, index, {}) == []


def test_installed_copy_of_the_repositorys_own_package_maps():
    """Case 030: the SyntaxError is in hyperopt/base.py as installed in a
    virtualenv. For the hyperopt repository that file is its own, so the fix
    belongs there; for any other repository it maps nowhere."""
    (frame,) = [f for f, _ in case_frames("030") if f and f.endswith("base.py")]
    assert "/site-packages/hyperopt/base.py" in frame
    hyperopt = PathIndex(["hyperopt/__init__.py", "hyperopt/base.py", "setup.py"])
    assert hyperopt.map_installed(frame) == "hyperopt/base.py"
    other = PathIndex(["app/base.py", "app/__init__.py"])
    assert other.map_installed(frame) is None


def test_installed_package_maps_to_a_src_layout_or_a_project_folder():
    frame = "/app/.venv/lib/python3.12/site-packages/mypkg/x.py"
    assert (
        PathIndex(["src/mypkg/__init__.py", "src/mypkg/x.py"]).map_installed(frame)
        == "src/mypkg/x.py"
    )
    monorepo = [
        "libs/core/pyproject.toml",
        "libs/core/mypkg/__init__.py",
        "libs/core/mypkg/x.py",
    ]
    assert PathIndex(monorepo).map_installed(frame) == "libs/core/mypkg/x.py"
    # A folder that is not a project root does not own an installed package.
    loose = ["examples/mypkg/__init__.py", "examples/mypkg/x.py"]
    assert PathIndex(loose).map_installed(frame) is None
    # Nor does a suffix shorter than the package-relative path.
    assert PathIndex(["x.py"]).map_installed(frame) is None


def test_frame_sites_take_installed_frames_only_for_the_repositorys_package():
    # Given case 045's traceback, with the repository being requests itself
    (found,) = find_tracebacks(
        next(CASES.glob("045-*")).joinpath("input.log").read_text(encoding="utf-8")
    )
    tb = Traceback.from_dict(found.traceback.to_dict())
    requests_repo = PathIndex(
        ["requests/__init__.py", "requests/models.py", "setup.py"]
    )
    app_repo = PathIndex(["spider.py", "dcard/posts.py", "dcard/__init__.py"])
    # Then the requests repository gets only the requests frame
    assert [(s.path, s.line) for s in frame_sites(tb, requests_repo, {})] == [
        ("requests/models.py", 808)
    ]
    # And the app gets its own frames, innermost first, and no library frame
    assert [(s.path, s.line, s.function) for s in frame_sites(tb, app_repo, {})] == [
        ("dcard/posts.py", 100, "format"),
        ("dcard/posts.py", 73, "__init__"),
        ("dcard/posts.py", 51, "get"),
        ("spider.py", 40, "main"),
    ]
