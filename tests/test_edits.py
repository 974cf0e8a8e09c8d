"""SEARCH/REPLACE edits, driven by recorded model answers in tests/answers/."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.fixing.edits import (
    Block,
    EditProblem,
    apply_block,
    apply_blocks,
    read_answer,
    refusal,
)

ANSWERS = Path(__file__).parent / "answers"
REPO = Path(__file__).parent / "repos" / "edits"
ORDERS = "app/orders.py"


def answer(name: str) -> str:
    return (ANSWERS / f"{name}.md").read_text(encoding="utf-8")


def repo_files() -> dict[str, str | None]:
    return {
        p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(REPO.rglob("*.py"))
    }


def apply_answer(name: str, files=None, *, may_edit=lambda p: True, max_files=3):
    files = repo_files() if files is None else files
    blocks = read_answer(answer(name)).blocks
    return apply_blocks(blocks, files, may_edit=may_edit, max_files=max_files)


def test_clean_answer_reads_sections_and_applies_exactly():
    read = read_answer(answer("clean"))
    assert read.title == "Guard average_price against an order with no items"
    assert read.root_cause.startswith("`Order.average_price` divides")
    assert read.problems == []

    result = apply_answer("clean")

    assert result.problems == []
    expected = repo_files()[ORDERS].replace(
        "        return self.total() / count\n",
        "        if not count:\n"
        '            return Decimal("0")\n'
        "        return self.total() / count\n",
    )
    assert result.files == {ORDERS: expected}


def test_drifted_whitespace_matches_tabs_and_trailing_spaces():
    """The file is tab-indented; the model quoted it with spaces and trailing
    blanks. The replacement must come out tab-indented, like the file, a new
    deeper level included."""
    result = apply_answer("drifted_whitespace")

    assert result.problems == []
    assert result.files == {
        "app/legacy.py": (
            "def load(path):\n"
            "\twith open(path) as handle:\n"
            "\t\tfor line in handle:\n"
            '\t\t\tif line.strip() and "," in line:\n'
            '\t\t\t\trow = line.split(",")\n'
            "\t\t\t\tif row[0]:\n"
            "\t\t\t\t\tyield row\n"
        )
    }


def test_wrong_indentation_is_shifted_back_including_new_levels():
    result = apply_answer("wrong_indentation")

    assert result.problems == []
    expected = repo_files()[ORDERS].replace(
        "        if self.coupon:\n"
        '            amount -= amount * self.coupon["percent"] / 100\n',
        "        if self.coupon:\n"
        '            percent = self.coupon.get("percent")\n'
        "            if percent:\n"
        "                amount -= amount * percent / 100\n",
    )
    assert result.files == {ORDERS: expected}


def test_several_blocks_in_one_file_apply_in_order_with_the_path_given_once():
    read = read_answer(answer("several_blocks_one_file"))
    assert [b.path for b in read.blocks] == [ORDERS, ORDERS]

    result = apply_answer("several_blocks_one_file")

    assert result.problems == []
    expected = repo_files()[ORDERS].replace(
        "    total = order.total()\n", '    total = order.total() or Decimal("0")\n'
    )
    assert result.files == {ORDERS: expected}


def test_blocks_in_two_files_named_in_file_and_bold_form():
    read = read_answer(answer("two_files"))
    assert [b.path for b in read.blocks] == ["app/pricing.py", ORDERS]

    result = apply_answer("two_files")

    assert result.problems == []
    files = repo_files()
    assert result.files == {
        "app/pricing.py": files["app/pricing.py"].replace(
            "CATALOGUE[sku]", 'CATALOGUE.get(sku, Decimal("0"))'
        ),
        ORDERS: files[ORDERS].replace(
            '            amount += unit_price(item["sku"]) * item["qty"]\n',
            '            price = unit_price(item["sku"])\n'
            "            if price:\n"
            '                amount += price * item["qty"]\n',
        ),
    }


def test_a_block_that_matches_twice_is_refused_with_the_nearest_lines():
    result = apply_answer("matches_twice")

    assert result.files == {}
    assert result.problems == [
        EditProblem(
            ORDERS,
            "the SEARCH for app/orders.py matches 2 places; quote more lines to "
            "make it unique",
            nearest=(
                "\n"
                "def receipt_line(order):\n"
                "    total = order.total()\n"
                '    return f"{len(order.items)} items, {total:.2f}"\n'
                "\n"
                "...\n"
                "\n"
                "def refund_line(order):\n"
                "    total = order.total()\n"
                '    return f"refund of {total:.2f}"\n'
            ),
        )
    ]


def test_a_block_that_matches_nothing_shows_the_nearest_real_lines():
    result = apply_answer("matches_nothing")

    assert result.files == {}
    assert result.problems == [
        EditProblem(
            ORDERS,
            "the SEARCH for app/orders.py matches no lines of the file",
            nearest=(
                "        return amount\n"
                "\n"
                "    def average_price(self):\n"
                '        count = sum(item["qty"] for item in self.items)\n'
                "        return self.total() / count\n"
                "\n"
                "\n"
                "def receipt_line(order):\n"
            ),
        )
    ]


def test_prose_and_fences_around_the_blocks_are_ignored():
    read = read_answer(answer("prose_around"))
    assert read.title == "Return zero for the average price of an empty order"
    assert [b.path for b in read.blocks] == [ORDERS]
    assert read.explanation == (
        "An empty order has no average; zero is what the receipt code expects."
    )

    result = apply_answer("prose_around")

    assert result.problems == []
    expected = repo_files()[ORDERS].replace(
        '        count = sum(item["qty"] for item in self.items)\n',
        '        count = sum(item["qty"] for item in self.items)\n'
        "        if count == 0:\n"
        '            return Decimal("0")\n',
    )
    assert result.files == {ORDERS: expected}


def test_a_fix_that_breaks_syntax_is_a_problem_pointing_at_the_line():
    result = apply_answer("breaks_syntax")

    assert len(result.problems) == 1
    problem = result.problems[0]
    assert problem.path == ORDERS
    assert problem.message == (
        "app/orders.py no longer parses after the edit: expected ':' (line 23)"
    )
    assert "        if count == 0\n" in problem.nearest
    assert not result.ok


def test_paths_outside_the_repository_are_refused():
    read = read_answer(answer("outside_repo"))
    assert [b.path for b in read.blocks] == [
        "../shared/pricing.py",
        "/etc/app/pricing.py",
        "C:/srv/app/pricing.py",
    ]

    result = apply_answer("outside_repo")

    assert result.files == {}
    assert [p.message for p in result.problems] == [
        "../shared/pricing.py is outside the repository",
        "/etc/app/pricing.py is outside the repository",
        "C:/srv/app/pricing.py is outside the repository",
    ]


def test_a_workflow_file_is_refused_even_when_it_exists():
    files = {**repo_files(), ".github/workflows/ci.yml": "jobs:\n      - run: pytest\n"}

    result = apply_answer("workflow_file", files)

    assert result.files == {}
    assert [p.message for p in result.problems] == [
        ".github/workflows/ci.yml is CI or repository policy, which fixes never touch"
    ]


def test_more_files_than_max_files_refuses_the_whole_answer():
    result = apply_answer("too_many_files")

    assert result.files == {}
    assert result.problems == [
        EditProblem(
            "",
            "edits touch 4 files (app/pricing.py, app/orders.py, app/legacy.py, "
            "app/receipts.py); at most 3 allowed",
        )
    ]


def test_paths_outside_the_config_globs_are_refused():
    result = apply_answer("clean", may_edit=lambda p: p.startswith("lib/"))

    assert result.files == {}
    assert [p.message for p in result.problems] == [
        "app/orders.py is outside the config's `paths`"
    ]


def test_crlf_file_keeps_its_line_endings():
    files = repo_files()
    files[ORDERS] = files[ORDERS].replace("\n", "\r\n")

    result = apply_answer("clean", files)

    assert result.problems == []
    expected = (
        repo_files()[ORDERS]
        .replace(
            "        return self.total() / count\n",
            "        if not count:\n"
            '            return Decimal("0")\n'
            "        return self.total() / count\n",
        )
        .replace("\n", "\r\n")
    )
    assert result.files == {ORDERS: expected}


def test_file_without_trailing_newline_stays_without_one():
    text = "def half(x):\n    return x / 2"
    block = Block("m.py", "    return x / 2\n", "    return x // 2\n")

    assert apply_block(text, block) == ("def half(x):\n    return x // 2", None)


def test_search_at_line_start_only_not_inside_a_longer_line():
    """A SEARCH `return a / b` must not match inside `        return a / b`
    as a substring and splice unindented lines into the middle of a line."""
    text = "def f(a, b):\n    return a / b\n"
    block = Block("m.py", "return a / b\n", "if not b:\n    return 0\nreturn a / b\n")

    new, problem = apply_block(text, block)

    assert problem is None
    assert new == "def f(a, b):\n    if not b:\n        return 0\n    return a / b\n"


def test_two_windows_equal_only_after_stripping_indentation_are_ambiguous():
    text = "if a:\n    x = 1\nif b:\n        x = 1\n"
    new, problem = apply_block(text, Block("m.py", "  x = 1\n", "  x = 2\n"))

    assert new == text
    assert problem is not None and "matches 2 places" in problem.message


def test_a_python2_file_is_not_blamed_for_errors_the_edit_did_not_write():
    text = 'def main():\n    print "hi"\n    return 1\n'
    block = Block("old.py", "    return 1\n", "    return 0\n")

    result = apply_blocks(
        [block], {"old.py": text}, may_edit=lambda p: True, max_files=3
    )

    assert result.problems == []
    assert result.files == {"old.py": text.replace("return 1", "return 0")}


def test_binary_files_are_refused():
    block = Block("data.txt", "a\n", "b\n")
    result = apply_blocks(
        [block], {"data.txt": "a\x00\n"}, may_edit=lambda p: True, max_files=3
    )
    assert [p.message for p in result.problems] == ["data.txt is a binary file"]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("app/x.py", None),
        ("./app/x.py", None),
        ("app/../../x.py", "is outside the repository"),
        ("..\\x.py", "is outside the repository"),
        ("d:\\srv\\x.py", "is outside the repository"),
        ("~/x.py", "is outside the repository"),
        ("app//x.py", "is not a plain repository path"),
        (
            ".github/workflows/release.yaml",
            "is CI or repository policy, which fixes never touch",
        ),
        (
            ".GitHub/Workflows/ci.yml",
            "is CI or repository policy, which fixes never touch",
        ),
        (".gitlab-ci.yml", "is CI or repository policy, which fixes never touch"),
        (".git/config", "is CI or repository policy, which fixes never touch"),
        ("static/logo.png", "is a binary file"),
    ],
)
def test_refusal(path, why):
    assert refusal(path, may_edit=lambda p: True) == why


@pytest.mark.parametrize(
    "heading",
    [
        "app/orders.py",
        "`app/orders.py`",
        "**app/orders.py**",
        "File: `app/orders.py`",
        "### app/orders.py",
        "```python app/orders.py",
    ],
)
def test_path_forms(heading):
    text = f"{heading}\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n"
    assert read_answer(text).blocks == [Block(ORDERS, "a\n", "b\n")]


def test_unclosed_and_unnamed_blocks_are_reported():
    text = "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\nx.py\n<<<<<<< SEARCH\na\n"
    read = read_answer(text)
    assert read.blocks == []
    assert read.problems == [
        "a block names no file on the line before it",
        "a block for x.py is not closed",
    ]
