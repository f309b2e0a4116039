"""One exception root per package: every exception class ``hub`` and ``pki`` define derives from
``HubError`` / ``PkiError``, and each appears in the tree drawn in its package's errors docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import hub
import hub.errors
import pki
import pki.errors


@pytest.mark.parametrize(
    ("package", "root", "tree"),
    [(hub, hub.errors.HubError, hub.errors), (pki, pki.errors.PkiError, pki.errors)],
)
def test_every_exception_a_package_defines_is_under_its_root_and_in_its_tree(package, root, tree) -> None:  # type: ignore[no-untyped-def]
    defined: set[type[BaseException]] = set()
    for module_info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                defined.add(value)
    assert defined, f"no exceptions found in {package.__name__}"
    outside = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in defined if not issubclass(cls, root))
    assert outside == []
    undrawn = sorted(
        cls.__name__
        for cls in defined
        if not cls.__name__.startswith("_") and cls.__name__ not in (tree.__doc__ or "")
    )
    assert undrawn == []
