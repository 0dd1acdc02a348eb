"""The boundaries themselves are import-linter contracts (`.importlinter`, run by `lint-imports` in
`make test`). This keeps the two checks it cannot express: that the contracts name every package
in the tree (a new service must not slip past them), and that a service's own tests (not a
package, so import-linter does not see them) import no other service."""

import ast
import configparser
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _packages(kind: str) -> dict[str, Path]:
    """package name -> its component folder (services/x or libs/x)."""
    return {
        pkg.name: pkg.parents[1] for pkg in sorted(REPO_ROOT.glob(f"{kind}/*/src/*")) if (pkg / "__init__.py").is_file()
    }


SERVICES = _packages("services")
LIBS = _packages("libs")
CONTRACTS = configparser.ConfigParser()
CONTRACTS.read(REPO_ROOT / ".importlinter")


def _listed(section: str, key: str) -> set[str]:
    return set(CONTRACTS[section][key].split())


def test_the_contracts_name_every_service_and_lib() -> None:
    assert len(SERVICES) >= 6 and len(LIBS) >= 4
    assert set(SERVICES) | set(LIBS) | {"q2c_localstack"} == _listed("importlinter", "root_packages")
    assert set(SERVICES) == _listed("importlinter:contract:services-independent", "modules")
    assert set(LIBS) == _listed("importlinter:contract:libs-no-services", "source_modules")
    assert set(SERVICES) < _listed("importlinter:contract:libs-no-services", "forbidden_modules")


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(SERVICES))
def test_a_services_tests_import_no_other_service(package: str) -> None:
    others = set(SERVICES) - {package}
    tests = sorted((SERVICES[package] / "tests").rglob("*.py"))

    violations = [
        f"{p.relative_to(REPO_ROOT)} imports {sorted(_top_level_imports(p) & others)}"
        for p in tests
        if _top_level_imports(p) & others
    ]

    assert not violations, "\n".join(violations)
