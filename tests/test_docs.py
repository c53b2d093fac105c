"""The documentation stays true to the code: config keys, runnable host-guide snippets, and links that resolve."""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from example_host.app import NOT_ENTRA_SETTINGS
from flask_entra.config import DEFAULTS
from flask_entra.providers.advice import AADSTS_ADVICE, CIPP_ADVICE, GRAPH_ADVICE

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HOST_GUIDE = DOCS / "host-guide.md"
OPERATOR_GUIDE = DOCS / "operator-guide.md"
MARKDOWN_FILES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

#: A row of the host guide's configuration table: | `ENTRA_KEY` | `default` | meaning |
CONFIG_ROW = re.compile(r"^\| `(ENTRA_[A-Z0-9_]+)` \| `([^`]*)` \|", re.MULTILINE)
#: Any ENTRA_ word, including placeholders such as ENTRA_SECRET_<TENANT>__<NAME>; one ending in "_" is a prefix.
ENTRA_WORD = re.compile(r"\bENTRA_(?:[A-Za-z0-9_]|<[A-Za-z_]+>|\{[A-Za-z_]+\})*")
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def config_table() -> dict[str, str]:
    return dict(CONFIG_ROW.findall(HOST_GUIDE.read_text(encoding="utf-8")))


def test_the_config_table_lists_every_key_with_its_real_default() -> None:
    table = config_table()
    assert sorted(table) == sorted(DEFAULTS), "docs/host-guide.md's table and flask_entra/config.py disagree"
    for key, default in table.items():
        assert ast.literal_eval(default) == DEFAULTS[key], (
            f"{key}: the guide says {default}, the code {DEFAULTS[key]!r}"
        )


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda p: p.name)
def test_every_entra_key_the_docs_name_exists(path: Path) -> None:
    # Not config keys: the env secret provider's ENTRA_SECRET_<TENANT>__<NAME> variables ("__" marks them) and the
    # test harness's ENTRA_TEST_* variables.
    words = {
        word
        for word in ENTRA_WORD.findall(path.read_text(encoding="utf-8"))
        if "__" not in word and not word.startswith(NOT_ENTRA_SETTINGS)
    }
    unknown = {word for word in words if not word.endswith("_") and word not in DEFAULTS}
    unknown |= {word for word in words if word.endswith("_") and not any(key.startswith(word) for key in DEFAULTS)}
    assert unknown == set(), f"{path.name} names keys the code does not have"


def test_troubleshooting_covers_every_error_the_code_gives_advice_for() -> None:
    guide = OPERATOR_GUIDE.read_text(encoding="utf-8")
    lowered = guide.lower()
    missing = [f"AADSTS{code}" for code in AADSTS_ADVICE if f"AADSTS{code}" not in guide]
    missing += [f"`{code}`" for code in GRAPH_ADVICE if f"`{code}`" not in guide]
    missing += [phrase for phrase, _ in CIPP_ADVICE if phrase not in lowered]
    assert missing == [], "docs/operator-guide.md's troubleshooting misses these"


def python_blocks(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, match.start()) + 2, match.group(1)) for match in PYTHON_BLOCK.finditer(text)]


def test_the_host_guide_has_runnable_snippets_for_the_key_tasks() -> None:
    code = "\n".join(block for _, block in python_blocks(HOST_GUIDE))
    for must_show in (
        "Entra(app, host=adapter)",
        "init_app(app)",
        "SQLAlchemyHostAdapter(",
        "@entra.principal_loader",
        "migrate.upgrade(app)",
        "entra_settings_card()",
        "actions.",
        "SimulatorServer(",
    ):
        assert must_show in code, f"no runnable snippet shows {must_show}"


@pytest.mark.slow  # it starts a simulator, a Temporal dev server and a worker, as the guide's last snippet shows
def test_every_python_snippet_of_the_host_guide_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In order, in one namespace, as a reader following the guide would (the temporal CLI comes with the venv)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    namespace: dict[str, Any] = {"__name__": "host_guide"}
    try:
        for line, block in python_blocks(HOST_GUIDE):
            exec(compile(block, f"{HOST_GUIDE}:{line}", "exec", dont_inherit=True), namespace)
    finally:
        for app in {id(v): v for v in namespace.values() if isinstance(v, Flask)}.values():
            if "entra" in app.extensions:
                app.extensions["entra"].close()
            with app.app_context():
                app.extensions["sqlalchemy"].engine.dispose()


def anchors(path: Path) -> set[str]:
    """The heading anchors a Markdown renderer makes: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda p: p.name)
def test_every_relative_link_points_to_an_existing_file_and_heading(path: Path) -> None:
    broken = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL
        file_part, _, anchor = target.partition("#")
        linked = path.parent / file_part if file_part else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert broken == [], f"{path.name} has links to missing files or headings"
