"""Package structure: one exception root per package, drawn in its docstring; no upward imports."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest


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
        ("equipment", "equipment.errors", "EquipmentError"),
        ("protos", "protos.errors", "ProtosError"),
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
