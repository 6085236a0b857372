"""The house's layers are a contract (pyproject.toml [tool.importlinter]) that lint-imports checks: kept by the
tree as it is, broken -- naming the import -- by a model module that reaches up to the scorer."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=tree,
                          capture_output=True, text=True, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                          timeout=300)


def copy_tree(to: Path) -> Path:
    for name in ("qinstruct", "app"):
        shutil.copytree(ROOT / name, to / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")
    return to


def test_the_tree_keeps_the_layers(tmp_path):
    result = lint_imports(copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_a_crossing_breaks_the_contract_and_is_named(tmp_path):
    tree = copy_tree(tmp_path)
    types = tree / "qinstruct" / "models" / "types.py"
    types.write_text(types.read_text() + "\n\ndef _crossing():\n    from ..scorer import Scorer\n    return Scorer\n")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "qinstruct.models is not allowed to import qinstruct.scorer" in result.stdout
    assert "- qinstruct.models.types -> qinstruct.scorer" in result.stdout
