"""Prompt size: our context against whole files of every in-app frame.

Run by hand: `python bench/context.py`. For each case repository under
`tests/repos/NNN-*/`, the real traceback of case NNN is read with the parser,
its frames are mapped into the repository, and the fix prompt is built twice
over the same frames: with `build_context`, and with the whole file of every
mapped frame, as the AWS sample does. The last line is
`prompt_vs_whole_files: X`, the ratio of the totals.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.fixing import context  # noqa: E402
from bot.fixing.context import Snippet, build_context  # noqa: E402
from bot.fixing.mapping import PathIndex  # noqa: E402
from bot.fixing.pipeline import frame_sites  # noqa: E402
from bot.fixing.prompts import fix_prompt  # noqa: E402
from bot.repo_config import DEFAULT_MAX_FILES  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.tracebacks.parse import find_tracebacks  # noqa: E402

REPOS = ROOT / "tests" / "repos"
CASES = ROOT / "tests" / "cases" / "tracebacks"
SUMMARY = "in log group `/aws/lambda/app` (1 time), for repository owner/app"
ROW_TEMPLATE = "{case:<20} {frames:>6} {files:>5} {ours:>8} {whole:>8} {ratio:>6}"
# Whole-file thresholds to compare; the first line of each is our setting.
THRESHOLDS = (0, 60, 120, 200, 300)


def case_inputs(repo: Path):
    """The case's traceback text, its frame sites and the repository's files."""
    number = repo.name.split("-", 1)[0]
    (case,) = CASES.glob(f"{number}-*")
    found = find_tracebacks((case / "input.log").read_text(encoding="utf-8"))[0]
    files = {
        p.relative_to(repo).as_posix(): p.read_text(encoding="utf-8")
        for p in repo.rglob("*")
        if p.is_file()
    }
    sites = frame_sites(found.traceback, PathIndex(files), {})
    allowed = list(dict.fromkeys(s.path for s in sites))[:DEFAULT_MAX_FILES]
    sites = [s for s in sites if s.path in allowed]
    return found.text, sites, {p: files[p] for p in allowed}


def whole_files(sites, files: dict[str, str]) -> list[Snippet]:
    snippets = []
    for path in dict.fromkeys(s.path for s in sites):
        text = files[path]
        total = len(text.splitlines())
        failing = sorted({s.line for s in sites if s.path == path and s.line})
        snippets.append(Snippet(path, 1, total, text, total, failing))
    return snippets


def measure(budget: int) -> tuple[list[str], int, int]:
    rows, ours_total, whole_total = [], 0, 0
    for repo in sorted(p for p in REPOS.iterdir() if p.name[:3].isdigit()):
        text, sites, files = case_inputs(repo)
        ours = fix_prompt(
            text, build_context(sites, files, token_budget=budget), SUMMARY
        )
        whole = fix_prompt(text, whole_files(sites, files), SUMMARY)
        ours_total += ours.chars
        whole_total += whole.chars
        rows.append(
            ROW_TEMPLATE.format(
                case=repo.name[:20],
                frames=len(sites),
                files=len(files),
                ours=ours.chars,
                whole=whole.chars,
                ratio=f"{ours.chars / whole.chars:.2f}",
            )
        )
    return rows, ours_total, whole_total


def main() -> None:
    budget = Settings.__dataclass_fields__["prompt_token_budget"].default
    setting = context.WHOLE_FILE_LINES
    # The trade-off behind WHOLE_FILE_LINES: what whole small files cost.
    print("whole-file threshold (lines) -> ratio of totals")
    for threshold in sorted({setting, *THRESHOLDS}):
        context.WHOLE_FILE_LINES = threshold
        _, ours, whole = measure(budget)
        mark = "  <- WHOLE_FILE_LINES" if threshold == setting else ""
        print(f"  {threshold:>4}: {ours / whole:.2f}{mark}")
    context.WHOLE_FILE_LINES = setting
    rows, ours, whole = measure(budget)
    print(
        ROW_TEMPLATE.format(
            case="case",
            frames="frames",
            files="files",
            ours="ours",
            whole="whole",
            ratio="ratio",
        )
    )
    print("\n".join(rows))
    print(f"prompt_vs_whole_files: {ours / whole:.2f}")


if __name__ == "__main__":
    main()
