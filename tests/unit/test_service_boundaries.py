"""ARCHITECTURE.md: no service imports another service's code; shared code lives in libs/,
and libs never import a service (nor the local stack tooling)."""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_STACK_PACKAGE = "q2c_localstack"


@dataclass(frozen=True)
class Component:
    """A workspace member: one service or one lib, with the package(s) it owns."""

    kind: str  # "service" or "lib"
    root: Path
    packages: frozenset[str]

    @property
    def name(self) -> str:
        return f"{self.kind}s/{self.root.name}"

    def sources(self) -> list[Path]:
        folders = [self.root / "src"]
        if self.kind == "service":
            folders.append(self.root / "tests")
        return sorted(p for folder in folders if folder.is_dir() for p in folder.rglob("*.py"))


def _discover(kind: str) -> list[Component]:
    components = []
    for root in sorted((REPO_ROOT / f"{kind}s").iterdir()):
        src = root / "src"
        if not src.is_dir():
            continue
        packages = frozenset(
            p.name for p in src.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
        )
        components.append(Component(kind, root, packages))
    return components


SERVICES = _discover("service")
LIBS = _discover("lib")
SERVICE_PACKAGES = {pkg: c for c in SERVICES for pkg in c.packages}


def imported_top_levels(source: str, filename: str = "<string>") -> set[str]:
    """Top-level names of every absolute import, including `importlib.import_module("x.y")`
    and `__import__("x")` with a literal name. Relative imports stay inside the package."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if not first.value.startswith("."):
                    names.add(first.value.split(".")[0])
    return names


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def _imports_by_file(component: Component) -> dict[Path, set[str]]:
    return {
        path: imported_top_levels(path.read_text(encoding="utf-8"), str(path))
        for path in component.sources()
    }


def _violations(
    component: Component, forbidden: dict[str, str], base: Path = REPO_ROOT
) -> list[str]:
    """`forbidden` maps a package to whose it is, for the message."""
    found = []
    for path, names in _imports_by_file(component).items():
        for name in sorted(names & set(forbidden)):
            found.append(f"{path.relative_to(base)} imports {name} ({forbidden[name]})")
    return found


# --- the discovery itself must find something, or every rule passes vacuously ------------


def test_discovery_finds_the_services_and_libs() -> None:
    assert len(SERVICES) >= 1, "no service package found under services/*/src/"
    assert len(LIBS) >= 4, f"only {[c.name for c in LIBS]} found under libs/*/src/"
    assert "feature_state_service" in SERVICE_PACKAGES
    assert {"q2c_contracts", "q2c_messaging", "q2c_persistence", "q2c_observability"} <= {
        pkg for lib in LIBS for pkg in lib.packages
    }
    assert all(c.packages and c.sources() for c in SERVICES + LIBS)


def test_no_package_is_owned_twice() -> None:
    owners = [pkg for c in SERVICES + LIBS for pkg in c.packages]
    assert len(owners) == len(set(owners)), owners


def test_the_scan_sees_the_imports_services_really_make() -> None:
    # A service uses the libs; if the scan saw none, it would see no violation either.
    for service in SERVICES:
        seen = set().union(*_imports_by_file(service).values())
        assert seen & {"q2c_contracts", "q2c_messaging"}, service.name


# --- the rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES, ids=lambda c: c.name)
def test_a_service_imports_no_other_services_code(service: Component) -> None:
    others = {
        pkg: f"owned by {owner.name}"
        for pkg, owner in SERVICE_PACKAGES.items()
        if owner is not service
    }

    violations = _violations(service, others)

    assert not violations, "a service imports another service:\n" + "\n".join(violations)


@pytest.mark.parametrize("lib", LIBS, ids=lambda c: c.name)
def test_a_lib_imports_no_service_and_no_local_stack(lib: Component) -> None:
    forbidden = {pkg: f"service {owner.name}" for pkg, owner in SERVICE_PACKAGES.items()}
    forbidden[LOCAL_STACK_PACKAGE] = "local stack tooling"

    violations = _violations(lib, forbidden)

    assert not violations, "a lib imports a service or the local stack:\n" + "\n".join(violations)


def test_a_violation_is_reported_with_its_file_and_package(tmp_path: Path) -> None:
    # Given a lib whose code reaches into a service
    package = tmp_path / "libs" / "leaky" / "src" / "q2c_leaky"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "rules.py").write_text("from feature_state_service.domain import decide\n")
    lib = Component("lib", tmp_path / "libs" / "leaky", frozenset({"q2c_leaky"}))

    violations = _violations(lib, {"feature_state_service": "service services/x"}, tmp_path)

    assert violations == [
        "libs/leaky/src/q2c_leaky/rules.py imports feature_state_service (service services/x)"
    ]


# --- the import scanner on small sources --------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import a", {"a"}),
        ("import a.b.c as d, e", {"a", "e"}),
        ("from a.b import c", {"a"}),
        ("from . import c\nfrom .x import y\nfrom ..z import w", set()),
        ("def f():\n    import lazy\n", {"lazy"}),
        ("if TYPE_CHECKING:\n    from typing_only import T\n", {"typing_only"}),
        ("import importlib\nimportlib.import_module('hidden.mod')", {"importlib", "hidden"}),
        ("from importlib import import_module\nimport_module('other')", {"importlib", "other"}),
        ("__import__('sneaky')", {"sneaky"}),
        ("import_module(name)", set()),
        ("x = 'import a'", set()),
    ],
)
def test_imported_top_levels_finds_every_absolute_import(source: str, expected: set[str]) -> None:
    assert imported_top_levels(source) == expected
