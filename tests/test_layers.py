"""The layers of the package, as import-linter's contracts in pyproject.toml state them: kept by the tree as it is,
and broken by a forbidden import planted in a copy of it, so the check can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (scripts/install --dev)"
)


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's contracts over the `simulator` package found in `tree`."""
    config = tree / "contracts.toml"
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    config.write_text(_as_toml(contracts))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _as_toml(contracts: dict) -> str:
    """The `[tool.importlinter]` table written back as TOML (values are strings, booleans and string lists)."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {value(v)}" for k, v in contracts.items() if k != "contracts"]
    for contract in contracts["contracts"]:
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{k} = {value(v)}" for k, v in contract.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "simulator", tmp_path / "simulator", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("providers/base.py", "import simulator.store", "Providers, scenarios and the catalog are pure"),
        ("scenarios/model.py", "import sqlalchemy", "Providers, scenarios and the catalog are pure"),
        ("core/runs.py", "import simulator.api.views", "Roles are layered"),
        ("delivery/lane.py", "import simulator.core.report", "Roles are layered"),
        ("cli/catalog.py", "import simulator.testing", "Only the tests import the test support"),
        ("client/records.py", "import simulator.core", "The Python client speaks to the control API over HTTP"),
        ("core/report.py", "import starlette.responses", "The core has no HTTP server"),
        ("models/records.py", "import simulator.providers", "The models are the bottom layer"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tree: Path, module: str, planted: str, contract: str) -> None:
    path = tree / "simulator" / module
    path.write_text(path.read_text() + f"\n{planted}  # planted\n")
    result = lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout
