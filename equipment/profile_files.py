"""Device profile files: a shipped profile by name, or a TOML file at a path, read and parsed.

Every bench with a register map (the brake tester's ``rbt_profile``, the dynamometer's
``dyn_profile``) reads its profiles the same way; each then checks the table against its own
schema. Errors are ``ProfileError(file, key, reason)``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from equipment.errors import ProfileError


def read_profile_text(name_or_path: str, shipped: Mapping[str, str]) -> tuple[str, str]:
    """The profile's TOML text and the file name to quote in errors: a shipped profile's (by its
    name in ``shipped``), else the file at ``name_or_path``."""
    if name_or_path in shipped:
        file = shipped[name_or_path]
        return resources.files("equipment").joinpath("profiles", file).read_text(encoding="utf-8"), file
    path = Path(name_or_path)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(str(path), "", f"cannot read the profile: {error}") from error


def parse_profile_toml(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(file, "", f"not valid TOML: {error}") from error
