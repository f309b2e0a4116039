"""Fixtures for the console tests (see console_rig)."""

from tests.hub.console.console_rig import console_hub, page  # noqa: F401
