"""What code the model sees: functions with their imports, callees, a budget."""

from __future__ import annotations

from bot.fixing.context import (
    CHARS_PER_TOKEN,
    LONG_FUNCTION_LINES,
    WHOLE_FILE_LINES,
    FrameSite,
    build_context,
)
from bot.fixing.prompts import fix_prompt


def filler(count: int, prefix: str = "helper") -> str:
    """Module-level functions, four lines each, that no frame touches."""
    return "".join(
        f"\n\ndef {prefix}_{n}(value):\n    value = value + {n}\n    return value\n"
        for n in range(count)
    )


HEAD = "import json\nfrom decimal import Decimal\n\nfrom .store import load\n"
ORDERS = (
    HEAD
    + filler(40)
    + '''

class Order:
    """An order."""

    def __init__(self, raw):
        self.raw = raw
        self.items = json.loads(raw)["items"]

    def total(self):
        return sum(self.price(i) for i in self.items)

    def price(self, item):
        return Decimal(item["price"]) * item["qty"]

    def average(self):
        return self.total() / len(self.items)


def summary(raw):
    order = Order(raw)
    text = describe(order.average())
    return text


def describe(value):
    return f"{value:.2f}"
'''
    + filler(10, "tail")
)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def spans(snippets):
    return [(s.path, s.start, s.end, s.reason, s.failing_lines) for s in snippets]


def test_a_large_file_gives_the_enclosing_function_its_imports_and_class_line():
    line = line_of(ORDERS, "return self.total() / len(self.items)")
    site = FrameSite("shop/orders.py", line, "average")

    snippets = build_context([site], {"shop/orders.py": ORDERS}, token_budget=5000)

    cls = line_of(ORDERS, "class Order:")
    total = line_of(ORDERS, "def total(self):")
    assert spans(snippets) == [
        ("shop/orders.py", 1, 4, "imports", []),
        ("shop/orders.py", cls, cls + 1, "class", []),
        ("shop/orders.py", total, total + 1, "callee", []),
        ("shop/orders.py", line - 1, line, "frame", [line]),
    ]
    by_reason = {s.reason: s for s in snippets}
    assert by_reason["frame"].text == (
        "    def average(self):\n        return self.total() / len(self.items)\n"
    )
    assert by_reason["imports"].text == HEAD
    assert by_reason["class"].text == 'class Order:\n    """An order."""\n'
    # self.total() on the failing line: the method of the same class
    assert [s.text for s in snippets if s.reason == "callee"] == [
        "    def total(self):\n        return sum(self.price(i) for i in self.items)\n"
    ]


def test_a_small_file_goes_whole_with_the_failing_line_named():
    text = "import os\n\n\ndef main():\n    return os.environ['HOME']\n"
    site = FrameSite("app.py", 5, "main")

    (snippet,) = build_context([site], {"app.py": text}, token_budget=5000)

    assert (snippet.whole, snippet.text, snippet.failing_lines) == (True, text, [5])
    assert WHOLE_FILE_LINES >= 5


def test_called_function_and_class_init_from_another_loaded_file():
    line = line_of(ORDERS, "text = describe(order.average())")
    other = "def unrelated():\n    pass\n" + filler(40, "pad")
    files = {"shop/orders.py": ORDERS, "shop/other.py": other}
    site = FrameSite("shop/orders.py", line, "summary")

    snippets = build_context([site], files, token_budget=5000)

    # describe() and Order.average() are called on the line; Order(...) is on
    # the line before, so its __init__ is not. All three stand close together,
    # so they come as one snippet.
    average = line_of(ORDERS, "def average(self):")
    describe = line_of(ORDERS, "def describe(value):")
    assert spans(snippets)[-1] == (
        "shop/orders.py",
        average,
        describe + 1,
        "frame",
        [line],
    )
    assert "def __init__(self, raw):" not in "".join(s.text for s in snippets)


def test_obj_method_resolves_to_the_class_in_another_loaded_file():
    service = (
        "from .repo import Repo\n"
        + filler(40)
        + "\n\ndef handle(repo):\n    return repo.fetch_row(3)\n"
    )
    repo = (
        "import sqlite3\n"
        + filler(40, "q")
        + "\n\nclass Repo:\n    def fetch_row(self, key):\n"
        "        return self.rows[key]\n"
    )
    site = FrameSite("svc.py", line_of(service, "repo.fetch_row(3)"), "handle")

    snippets = build_context(
        [site], {"svc.py": service, "repo.py": repo}, token_budget=9000
    )

    assert [(s.path, s.reason, s.text) for s in snippets if s.reason == "callee"] == [
        (
            "repo.py",
            "callee",
            "    def fetch_row(self, key):\n        return self.rows[key]\n",
        )
    ]


def test_the_budget_never_drops_the_innermost_function():
    line = line_of(ORDERS, "return self.total() / len(self.items)")
    outer = line_of(ORDERS, "text = describe(order.average())")
    sites = [
        FrameSite("shop/orders.py", line, "average"),
        FrameSite("shop/orders.py", outer, "summary"),
    ]

    # A budget smaller than the innermost function alone
    snippets = build_context(sites, {"shop/orders.py": ORDERS}, token_budget=1)

    assert spans(snippets) == [
        ("shop/orders.py", line - 1, line, "frame", [line]),
    ]


def test_the_budget_keeps_frames_before_callees_and_stays_under_cap():
    line = line_of(ORDERS, "return self.total() / len(self.items)")
    outer = line_of(ORDERS, "text = describe(order.average())")
    sites = [
        FrameSite("shop/orders.py", line, "average"),
        FrameSite("shop/orders.py", outer, "summary"),
    ]
    budget = 60  # tokens: 240 chars, room for the functions but not imports

    snippets = build_context(sites, {"shop/orders.py": ORDERS}, token_budget=budget)

    assert sum(len(s.text) for s in snippets) <= budget * CHARS_PER_TOKEN
    # Both functions, adjacent in the file, as one snippet; no callee
    start = line_of(ORDERS, "def average(self):")
    assert spans(snippets)[-1] == (
        "shop/orders.py",
        start,
        outer + 1,
        "frame",
        [line, outer],
    )
    assert "def total(self):" not in "".join(s.text for s in snippets)


def test_a_long_function_is_cut_to_a_window_and_its_signature():
    body = "".join(f"    step_{n} = {n}\n" for n in range(LONG_FUNCTION_LINES + 80))
    text = "import os\n\n\ndef long(path):\n" + body + "    return os.stat(path)\n"
    failing = line_of(text, "return os.stat(path)")

    snippets = build_context(
        [FrameSite("big.py", failing, "long")], {"big.py": text}, token_budget=9000
    )

    frame = next(s for s in snippets if s.reason == "frame")
    assert (frame.start, frame.end, frame.failing_lines) == (
        failing - 60,
        failing,
        [failing],
    )
    # The signature stands two lines below the imports: sent with them
    assert [s.text for s in snippets if s.start == 1] == [
        "import os\n\n\ndef long(path):\n"
    ]


def test_module_level_failure_gets_its_top_level_statement():
    text = (
        "import sys\n"
        + filler(40)
        + "\n\nif __name__ == '__main__':\n    sys.exit(main())\n"
    )
    failing = line_of(text, "sys.exit(main())")

    snippets = build_context(
        [FrameSite("cli.py", failing, "<module>")], {"cli.py": text}, token_budget=9000
    )

    frame = next(s for s in snippets if s.reason == "frame")
    assert frame.text == "if __name__ == '__main__':\n    sys.exit(main())\n"


def test_an_unparsable_file_gets_a_window_around_the_line():
    text = "x = 1\n" * 150 + "print 'py2'\n" + "y = 2\n" * 50
    snippets = build_context(
        [FrameSite("old.py", 151, "<module>")], {"old.py": text}, token_budget=9000
    )
    assert spans(snippets) == [("old.py", 131, 171, "frame", [151])]


def test_frames_in_unloaded_files_are_skipped():
    assert build_context([FrameSite("gone.py", 3, "f")], {}, token_budget=100) == []


def test_two_frames_in_one_function_share_one_snippet():
    line = line_of(ORDERS, "text = describe(order.average())")
    sites = [
        FrameSite("shop/orders.py", line, "summary"),
        FrameSite("shop/orders.py", line - 1, "summary"),
    ]
    snippets = build_context(sites, {"shop/orders.py": ORDERS}, token_budget=9000)
    frames = [s for s in snippets if s.reason == "frame"]
    assert [f.failing_lines for f in frames] == [[line - 1, line]]


def test_prompt_names_the_failing_line():
    line = line_of(ORDERS, "return self.total() / len(self.items)")
    site = FrameSite("shop/orders.py", line, "average")
    snippets = build_context([site], {"shop/orders.py": ORDERS}, token_budget=5000)

    prompt = fix_prompt("Traceback ...", snippets, "in log group `x`")

    assert (
        f"Failing line {line}: `return self.total() / len(self.items)`" in prompt.user
    )
    assert len(prompt.user) < len(ORDERS)


def test_short_module_constants_the_function_reads_are_shown():
    text = (
        "import re\n\nSUFFIX_RE = re.compile(r'st$')\nTABLE = {\n"
        + "".join(f"    'k{n}': {n},\n" for n in range(30))
        + "}\n"
        + filler(50)
        + "\n\ndef norm(a):\n    if SUFFIX_RE.search(a):\n        b = a\n"
        "    return b + str(TABLE)\n"
    )
    failing = line_of(text, "return b + str(TABLE)")

    snippets = build_context(
        [FrameSite("n.py", failing, "norm")], {"n.py": text}, token_budget=9000
    )

    # The regex goes in; the 32-line table is data, not worth its room
    assert [s.text for s in snippets if s.start == 1] == [
        "import re\n\nSUFFIX_RE = re.compile(r'st$')\n"
    ]
    assert not any("'k1': 1" in s.text for s in snippets)
