"""Every bench reading against its physical range (``inspection.record_limits``), as it arrives.

A reading outside what the bench can physically report (a negative wheel load, 40 % CO) is a
broken measurement, not a failed vehicle: the hub would refuse the signed record for ever. The
lane checks each step's readings here and aborts the visit naming bench, quantity and value, so
such a record is never signed.
"""

from __future__ import annotations

from collections.abc import Iterable

from inspection import AxleBrake, EmissionRun, FreeAccelerationRun, LampMeasurement, TwoSpeedIdleRun
from inspection.record_limits import (
    BRAKE_TEST_FIELDS,
    GAS_READING_FIELDS,
    LAMP_FIELDS,
    WHEEL_LOAD_FIELDS,
    Quantity,
    RecordOutOfLimits,
    check_value,
    loaded_values,
    ranged_values,
)
from station_agent.procedures import ProcedureError


class ReadingOutOfRange(ProcedureError):
    """``bench`` reported ``value`` for ``quantity`` (at ``path``), outside its physical range."""

    def __init__(self, bench: str, path: str, quantity: Quantity, value: float, reason: str) -> None:
        super().__init__(bench, f"reading out of physical range: {path}: {reason}")
        self.bench = bench
        self.path = path
        self.quantity = quantity
        self.value = value


def _check(bench: str, readings: Iterable[tuple[Quantity, float | None, str]]) -> None:
    for quantity, value, path in readings:
        try:
            check_value(quantity, value, path)
        except RecordOutOfLimits as error:
            assert value is not None  # None (not available) always passes
            raise ReadingOutOfRange(bench, path, quantity, value, error.reason) from error


def check_axle(axle: AxleBrake, bench: str = "rbt") -> None:
    at = f"axle {axle.axle}"
    readings = [(q, v, f"{at} {label}") for q, v, _, label in ranged_values(axle, WHEEL_LOAD_FIELDS)]
    for name, test in (("service", axle.service), ("parking", axle.parking)):
        if test is None:
            continue
        run = f"{at} {name} brake"
        readings += [(q, v, f"{run} {label}") for q, v, _, label in ranged_values(test, BRAKE_TEST_FIELDS)]
        if test.curve is not None:
            readings.append((Quantity.SAMPLE_RATE_HZ, test.curve.sample_rate_hz, f"{run} curve rate"))
            extremes = test.curve.extremes
            for side, lowest, highest in (
                ("left", extremes.left_min, extremes.left_max),
                ("right", extremes.right_min, extremes.right_max),
            ):
                readings += [
                    (Quantity.CURVE_SAMPLE_N, n, f"{run} {side} curve")
                    for n in (lowest, highest)
                    if n is not None
                ]
    _check(bench, readings)


def check_lamps(lamps: Iterable[LampMeasurement], bench: str = "hlt") -> None:
    readings: list[tuple[Quantity, float | None, str]] = []
    for lamp in lamps:
        at = f"{lamp.side.value} {lamp.beam.value} beam"
        readings += [(q, v, f"{at} {label}") for q, v, _, label in ranged_values(lamp, LAMP_FIELDS)]
    _check(bench, readings)


def check_emission(run: EmissionRun | None) -> None:
    if isinstance(run, TwoSpeedIdleRun):
        readings: list[tuple[Quantity, float | None, str]] = []
        for phase, phase_readings in (("high idle", run.high_idle), ("low idle", run.low_idle)):
            for reading in phase_readings:
                at = f"{phase} t={reading.t_s:g} s"
                readings += [
                    (q, v, f"{at} {label}") for q, v, _, label in ranged_values(reading, GAS_READING_FIELDS)
                ]
        _check("ega", readings)
    elif isinstance(run, FreeAccelerationRun):
        _check(
            "opm",
            [
                (Quantity.OPACITY_K_PER_M, k, f"acceleration {n} opacity K")
                for n, k in enumerate(run.k_per_m, start=1)
            ],
        )
    elif run is not None:
        try:
            readings = [(q, v, f"{path} ({label})") for q, v, path, label in loaded_values(run)]
        except RecordOutOfLimits as error:  # a count beyond the table: the procedure ran away
            raise ProcedureError("dyn", f"{error.path}: {error.reason}") from error
        _check("dyn", readings)


__all__ = ["ReadingOutOfRange", "check_axle", "check_emission", "check_lamps"]
