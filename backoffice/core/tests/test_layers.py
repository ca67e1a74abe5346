"""The layers hold: the kernel (`backoffice/`) imports no app, and the two apps import neither each other.

Every non-test module is parsed (ast), so an import inside a function counts as much as one at the top.
What an app shares with the other belongs in the kernel (e.g. backoffice/core/api.py). Tests may cross
the lines (an end-to-end test drives both apps); settings and URL confs name apps only as strings.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# Package -> the top-level packages none of its modules may import.
FORBIDDEN = {
    "backoffice": {"issuance", "compliance"},
    "compliance": {"issuance"},
    "issuance": {"compliance"},
}


def _is_test(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return "tests" in parts or path.name.startswith("test_") or path.name == "conftest.py"


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in the module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def layer_violations(root: Path) -> list[str]:
    """Each forbidden import under `root`, as "path:line imports module"."""
    violations = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((root / package).rglob("*.py")):
            if _is_test(path, root):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, module in _imported(tree):
                if module.split(".")[0] in forbidden:
                    violations.append(f"{path.relative_to(root)}:{line} imports {module}")
    return violations


def test_the_kernel_imports_no_app_and_the_apps_import_neither_each_other() -> None:
    assert (ROOT / "backoffice" / "core").is_dir() and (ROOT / "issuance").is_dir()  # the right root
    violations = layer_violations(ROOT)
    assert not violations, "imports across the layers:\n" + "\n".join(violations)


@pytest.mark.parametrize(("path", "source", "expected"), [
    ("backoffice/multisig/views.py", "from issuance.models import OwnerProposal\n",
     "backoffice/multisig/views.py:1 imports issuance.models"),
    ("backoffice/core/api.py", "def later():\n    import compliance.services\n",
     "backoffice/core/api.py:2 imports compliance.services"),
    ("compliance/api/views.py", "from issuance.api.views import ServiceViewSet\n",
     "compliance/api/views.py:1 imports issuance.api.views"),
    ("issuance/services.py", "import compliance\n", "issuance/services.py:1 imports compliance"),
])
def test_a_forbidden_import_is_reported_with_its_place(tmp_path: Path, path: str, source: str, expected: str) -> None:
    module = tmp_path / path
    module.parent.mkdir(parents=True)
    module.write_text(source)
    assert layer_violations(tmp_path) == [expected]


def test_allowed_imports_tests_and_relative_imports_are_not_reported(tmp_path: Path) -> None:
    allowed = {
        "issuance/services.py": "from backoffice.multisig.models import TxState\nfrom .models import Bar\n",
        "compliance/api/views.py": "from backoffice.core.api import ServiceViewSet\nimport issuance_like\n",
        "backoffice/tests/test_flow.py": "from issuance.models import Bar\nimport compliance\n",
        "compliance/tests/factories.py": "from issuance.tests.factories import issue_on_chain\n",
        "issuance/conftest.py": "import compliance\n",
    }
    for path, source in allowed.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(source)
    assert layer_violations(tmp_path) == []
