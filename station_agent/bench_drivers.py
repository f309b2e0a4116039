"""What the lane's procedures need of each bench, declared once.

The gas analyser and the opacity meter are taken as the drivers themselves
(``equipment.ega_driver.GasAnalyser``, ``equipment.opm_driver.OpacityMeter``, their common part
``equipment.ega_driver.BinaryBench``). The brake and headlight testers are taken through the two
Protocols below, because the lane hands the procedures a step-by-step view of them (each axle,
each lamp run again if the bench drops, ``station_agent.lane``), not the drivers; the results are
the drivers' own dataclasses, so a field renamed in ``equipment`` is a type error here.

The driver modules are imported for type checking only: this package stays importable without
pyserial or pymodbus (a hub-only host runs the lane state machine's tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from equipment.hlt_codec import LampReading
    from equipment.rbt_driver import AxleResult


class BrakeTester(Protocol):
    """``equipment.rbt_driver.RollerBrakeTester``, opened, as the brake procedure drives it."""

    async def test_axle(self, parking: bool, *, again: bool = False) -> AxleResult: ...


class HeadlightTester(Protocol):
    """``equipment.hlt_driver.HeadlightTester``, opened, as the headlight procedure drives it."""

    async def measure(self, side: str, beam: str) -> LampReading: ...
