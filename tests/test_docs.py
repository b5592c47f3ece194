"""The documentation holds together: the README stays a five-minute read, and every relative link
of README.md and docs/*.md leads to a file that exists (and to a heading of it, with `#anchor`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); the target ends at whitespace (a title may follow) or ")"
_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans removed."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(_CODE_SPAN.sub("", line))
    return lines


def links(text: str) -> list[str]:
    return [m.group(1) for line in prose_lines(text) for m in _LINK.finditer(line)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        m = _HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def broken_links(path: Path) -> list[str]:
    problems = []
    for target in links(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            problems.append(f"{target}: no file {_shown(resolved)}")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {_shown(resolved)}")
    return problems


def test_the_readme_is_a_five_minute_read():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
    assert broken_links(path) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other page\n\n## Login locked\n")
    page.write_text(
        "# Page\n\n[fine](other.md#login-locked) [web](https://example.org/x.md) [self](#page)\n"
        "`[in code](nowhere.md)`\n```\n[in a block](nowhere.md)\n```\n"
        "[gone](missing.md) [no heading](other.md#tiles-offline) ![img](img/none.png)\n"
    )
    problems = broken_links(page)
    assert [p.split(":")[0] for p in problems] == ["missing.md", "other.md#tiles-offline", "img/none.png"]


def test_slugs_follow_github():
    assert slug("The WebSocket protocol") == "the-websocket-protocol"
    assert slug("`/ws/ops/`") == "wsops"
    assert slug("Where the time goes: measured facts behind the design") == (
        "where-the-time-goes-measured-facts-behind-the-design"
    )
    assert slug("Two ways to run, one code path") == "two-ways-to-run-one-code-path"


# -- code comments keep no timing figures: measured figures date, and belong in docs/benchmarks.md ----

PRODUCT_PACKAGES = ("streamcity", "transit", "alerts", "simulators")
_TIMING = re.compile(
    r"\d[\d,.]*\s?µs"  # microseconds are always a measurement here
    r"|~\s?\d[\d,.]*\s?(?:ms|s)\b"  # "about so many (milli)seconds"
    r"|\d[\d,.]*\s?(?:records|events|rows|reports)/s\b"  # a throughput
    r"|\d+(?:\.\d+)?\s?% of (?:the |a |it\b)(?:\w+ )?(?:process|pipeline|bridge|replay)\w*"  # a profile share
    r"|see README, Benchmarks"
)


def comment_texts(source: str):
    """(line, text) of every comment and docstring of a Python module."""
    import ast
    import io
    import tokenize

    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            yield tok.start[0], tok.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield first.lineno, value.value


def timing_figures(source: str) -> list[tuple[int, str]]:
    return sorted((line, m.group(0)) for line, text in comment_texts(source) for m in _TIMING.finditer(text))


def test_no_timing_figures_in_code_comments():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {figure}"
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, figure in timing_figures(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "move measured figures to docs/benchmarks.md"


def test_the_timing_check_tells_figures_from_settings():
    source = '''"""Cost ~1 µs an event."""
# reading ~140,000 records/s (~14 % of the vehicle processors); LiveVehicle.of was 16 % of the replay
x = 1  # about 0.2 s (see README, Benchmarks)
LATE = 300  # more than 5 min late; headway below 75 % of the scheduled headway; every 10 s
'''
    assert {f for _, f in timing_figures(source)} == {
        "1 µs", "140,000 records/s", "14 % of the vehicle processors", "16 % of the replay", "see README, Benchmarks"
    }
