"""Package structure: one exception root per package, drawn in its docstring; no upward imports."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def _modules(package: str) -> list[ModuleType]:
    root = importlib.import_module(package)
    names = [package] + [
        info.name
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")
        if "_pb2" not in info.name  # generated code
    ]
    return [importlib.import_module(name) for name in names]


@pytest.mark.parametrize(
    ("package", "root_module", "root_name"),
    [
        ("inspection", "inspection.errors", "InspectionError"),
        ("elabel", "elabel.errors", "LabelError"),
        ("equipment", "equipment.errors", "EquipmentError"),
        ("protos", "protos.errors", "ProtosError"),
        ("web_serving", "web_serving.errors", "WebServingError"),
    ],
)
def test_every_exception_of_a_package_is_under_its_root_and_in_its_tree(
    package: str, root_module: str, root_name: str
) -> None:
    module = importlib.import_module(root_module)
    root = getattr(module, root_name)
    tree = module.__doc__ or ""
    defined = {
        cls
        for mod in _modules(package)
        for _, cls in inspect.getmembers(mod, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == mod.__name__
    }
    assert root in defined
    outside = sorted(cls.__qualname__ for cls in defined if not issubclass(cls, root))
    assert outside == [], f"exceptions of {package} not under {root_name}"
    undrawn = sorted(cls.__qualname__ for cls in defined if cls.__qualname__ not in tree)
    assert undrawn == [], f"exceptions of {package} missing from the tree in {root_module}"


LIBRARY_PACKAGES = (
    "inspection",
    "elabel",
    "equipment",
    "protos",
    "hub",
    "station_agent",
    "pki",
    "web_serving",
)
NEVER_IMPORTED_BY_LIBRARIES = ("simulators", "tests")


def _imported_modules(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):  # every import, also those inside functions and TYPE_CHECKING
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", LIBRARY_PACKAGES)
def test_no_library_module_imports_simulators_or_tests(package: str) -> None:
    # Only the CLI (tongjian sim ..., tongjian demo) may start simulators; see README "Layering".
    offending = []
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in sorted(_imported_modules(tree)):
            if name.split(".")[0] in NEVER_IMPORTED_BY_LIBRARIES:
                offending.append(f"{path.relative_to(REPO)} imports {name}")
    assert offending == []


def test_the_import_check_sees_imports_inside_functions() -> None:
    tree = ast.parse("def f():\n    from simulators.fleet import generate_fleet\n    import tests.conftest\n")
    assert _imported_modules(tree) == {"simulators.fleet", "tests.conftest"}


# Who may import whom (shared/style.md, README "Layering"): the domain imports nothing of ours;
# equipment knows no lane, agent or hub; agent and hub meet only through protos (and pki); what
# their web front ends share (the embedded ASGI server, the sign-in throttle) is web_serving, which
# imports nothing of ours.
OURS = {
    "inspection",
    "elabel",
    "equipment",
    "protos",
    "pki",
    "hub",
    "station_agent",
    "simulators",
    "tests",
    "tongjian",
    "web_serving",
}
MAY_IMPORT = {
    "inspection": {"inspection"},
    # Labels verify offline: the verifier knows the domain, never the hub or its database.
    "elabel": {"elabel", "inspection"},
    "equipment": {"equipment", "inspection"},
    "protos": {"protos", "inspection"},
    "pki": {"pki"},
    # Serving the console and the PDA page: shared by hub and agent, so it may know neither.
    "web_serving": {"web_serving"},
    "hub": {"hub", "inspection", "protos", "pki", "elabel", "web_serving"},
    "station_agent": {"station_agent", "equipment", "inspection", "protos", "pki", "web_serving"},
}


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_no_import_runs_upward_or_across(package: str) -> None:
    offending = []
    for path in sorted((REPO / package).rglob("*.py")):
        if "_pb2" in path.name:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in sorted(_imported_modules(tree)):
            top = name.split(".")[0]
            if top in OURS and top not in MAY_IMPORT[package]:
                offending.append(f"{path.relative_to(REPO)} imports {name}")
    assert offending == []


def test_web_serving_imports_neither_hub_nor_station_agent() -> None:
    # The reason the package exists: both sides use it, so it must not lean on either (a cycle,
    # and the hub and the agent would meet outside protos after all).
    offending = []
    for path in sorted((REPO / "web_serving").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offending += [
            f"{path.relative_to(REPO)} imports {name}"
            for name in sorted(_imported_modules(tree))
            if name.split(".")[0] in {"hub", "station_agent"}
        ]
    assert offending == []
    assert len(list((REPO / "web_serving").rglob("*.py"))) >= 3  # it looked at the package's modules
