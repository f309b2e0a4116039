"""The lane's test procedures: brake, headlight, two-speed idle, free acceleration, and on the chassis
dynamometer ASM and lug-down (which drive two or three benches each).

Each procedure drives one bench through its driver (``equipment``) and returns the domain
measurement (``inspection.measurements``) in the record's units. Durations are procedure seconds
on a ``station_agent.clock.Clock``, so tests run them scaled down. A procedure that cannot be run
as the standard says (engine not warm, speed never in its band) raises ``ProcedureError``; a bench
that fails raises the driver's ``equipment.errors.EquipmentError``. Either aborts the lane visit.
"""

from __future__ import annotations

from station_agent.errors import StationAgentError


class ProcedureError(StationAgentError):
    """The test could not be carried out as the standard prescribes; ``procedure`` and ``reason`` say why."""

    def __init__(self, procedure: str, reason: str) -> None:
        super().__init__(f"{procedure}: {reason}")
        self.procedure = procedure
        self.reason = reason
