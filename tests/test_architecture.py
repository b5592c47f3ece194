"""The layers hold: import-linter's contracts (pyproject.toml) pass on the tree, and they would catch
an import pointing the wrong way (checked on a copy of the tree with one such import added)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("streamcity", "transit", "alerts", "simulators", "benchmarks")
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (requirements-dev.txt)")


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def tree_copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_its_layers():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("module, line, contract", [
    ("streamcity/kernel/bus/_probe.py", "import transit.models\n", "the kernel imports no app"),
    ("transit/_probe.py", "import alerts.models\n", "kernel <- apps <- wiring"),
    ("transit/_probe.py", "from streamcity.management.commands import runprocessors\n", "kernel <- apps <- wiring"),
    ("simulators/_probe.py", "from streamcity import server\n", "kernel <- apps <- wiring"),
    ("alerts/_probe.py", "import simulators.engine\n", "alerts and simulators know nothing of each other"),
    ("transit/_probe.py", "import benchmarks.host\n", "kernel <- apps <- wiring"),
])
def test_an_import_the_wrong_way_breaks_a_contract(tmp_path, module, line, contract):
    root = tree_copy(tmp_path)
    (root / module).write_text(line)
    done = lint(root)
    assert done.returncode != 0
    assert f"{contract}" in done.stdout and "BROKEN" in done.stdout, done.stdout


def test_every_module_of_the_project_package_is_in_a_layer():
    """A new module beside the kernel (say, streamcity/roles.py importing the apps, the old cycle)
    must be named in the wiring layer, or the layers contract would not see it."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in config if c["type"] == "layers")["layers"]
    named = {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}
    modules = {f"streamcity.{p.stem}" for p in (ROOT / "streamcity").iterdir()
               if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert modules - named == set()
