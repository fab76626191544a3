"""Every Python code block of the documentation runs.

Collects each fenced block marked ```python in README.md, CHANGELOG.md and docs/*.md,
and executes it as one pytest case (id ``file:line`` of its opening fence) in a fresh
namespace, with a temporary directory as the working directory, the Agg matplotlib
backend, one torch thread, and scikit-learn's configuration restored afterwards (a
block may call ``sklearn.set_config``). Blocks that must not run use another fence
language: ```bash for shell commands, ```text for output.

Small sizes: the test sets the environment variable ``SKIMB_DOCS_SMALL=1``. A block
whose realistic size is too slow for the test suite reads it to shrink its data or
epochs, e.g. ``n = 2_000 if os.environ.get("SKIMB_DOCS_SMALL") else 200_000``; the
blocks are written so that, read without it, they run as a user would run them.

Also checked: every relative link in those files points to a file that exists, and
every ``#anchor`` to a heading of that file.
"""

import re
import sys
from pathlib import Path

import pytest
import sklearn
import torch

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


def code_blocks(path):
    """(line of the opening fence, language, code) for each fenced block of ``path``."""
    blocks, lang, start, lines = [], None, 0, []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = FENCE.match(line)
        if lang is None and match:
            lang, start, lines = match.group(2), number, []
        elif lang is not None and match and not match.group(2):
            blocks.append((start, lang, "\n".join(lines) + "\n"))
            lang = None
        elif lang is not None:
            lines.append(line)
    assert lang is None, f"{path.name}: the block opened at line {start} is not closed"
    return blocks


def python_blocks():
    for path in DOC_FILES:
        if path.exists():
            for line, lang, code in code_blocks(path):
                if lang == "python":
                    name = path.relative_to(ROOT).as_posix()
                    yield pytest.param(code, id=f"{name}:{line}")


@pytest.mark.parametrize("code", list(python_blocks()))
def test_python_block_runs(code, request, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKIMB_DOCS_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    source_name = request.node.callspec.id
    namespace = {"__name__": "__docs__"}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on cores shared with other processes, two threads spin
    try:
        with sklearn.config_context():  # restores any set_config of the block
            exec(compile(code, source_name, "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
        if "matplotlib.pyplot" in sys.modules:
            import matplotlib.pyplot as plt

            plt.close("all")


def github_anchor(heading):
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    in_block, found = False, set()
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            in_block = not in_block
        elif not in_block and line.startswith("#"):
            found.add(github_anchor(line.lstrip("#")))
    return found


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize(
    "path", [p for p in DOC_FILES if p.exists()], ids=lambda p: p.name
)
def test_relative_links_resolve(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert not broken, f"{path.name}: broken links {broken}"


def test_docs_exist_and_readme_is_short():
    assert (ROOT / "CHANGELOG.md").exists()
    assert len(list((ROOT / "docs").glob("*.md"))) >= 5
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300
