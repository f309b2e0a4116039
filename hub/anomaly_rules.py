"""Automatic warnings for post-review (智慧监管): pure functions, each over one record and the few
facts about other records it needs, each returning its hits with a reason a reviewer reads.

No rule reads the database. A rule that compares a record with others takes the result of an
indexed look-up the review queue made for it (``hub.review_queue``: photo hashes, curve
fingerprints, per-lane counters, per-station day counts, visits of the same VIN), so the rules stay
testable by hand and the queries stay where EXPLAIN can be checked.

A hit queues the record; it does not decide anything. Thresholds are in ``AnomalyConfig``, with
defaults a province may override; every rule says in its reason the numbers it compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from enum import StrEnum

from inspection import InspectionRecord, Outcome
from inspection.measurements import BrakeTest, FreeAccelerationRun, TwoSpeedIdleRun
from inspection.record_limits import RecordOutOfLimits, check_record

STANDARD_GRAVITY = 9.80665
COUNTER_MODULUS = 0x10000  # TEST_COUNTER is one 16-bit register (spec 1.2) and wraps


class Rule(StrEnum):
    TOO_FAST = "too_fast"
    SHARED_PHOTO = "shared_photo"
    COPIED_CURVE = "copied_curve"
    IMPLAUSIBLE_VALUE = "implausible_value"
    TEST_COUNTER = "test_counter"
    OUTSIDE_HOURS = "outside_hours"
    PASS_RATE_OUTLIER = "pass_rate_outlier"
    OVERLAPPING_VISIT = "overlapping_visit"
    # Flags the screener raises without a rule function: facts already in the record or its row.
    VERDICT_MISMATCH = "verdict_mismatch"
    WHEEL_SLIP = "wheel_slip"
    PDA_CORRECTION = "pda_correction"
    SAMPLED = "sampled"


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: Rule
    reason: str


@dataclass(frozen=True, slots=True)
class StationHours:
    """When a station works, in its local time (China: UTC+8, no daylight saving)."""

    opens: time = time(7, 0)
    closes: time = time(20, 0)
    utc_offset: timedelta = timedelta(hours=8)

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError(f"station hours: opens {self.opens} must be before closes {self.closes}")


@dataclass(frozen=True, slots=True)
class AnomalyConfig:
    # Too fast: the least time a visit takes beyond what its own data prove (curve samples at their
    # rate, gas readings at one a second).
    min_visit_s: float = 180.0  # check-in, visual checks, driving through
    min_brake_run_s: float = 8.0  # roll in, weigh, start the rollers, one run beyond its curve
    min_lamp_s: float = 5.0  # per lamp and beam
    min_free_acceleration_s: float = 10.0  # per acceleration
    # Brake force against wheel load: more than this many g is a rigged bench or a copied value.
    max_brake_force_per_load_g: float = 1.2
    # TEST_COUNTER: a bench counts every run; aborted runs make small gaps, a large one is a bench
    # swapped or runs made off the record.
    max_counter_jump: int = 5
    # Copied curves: the shape hash (``curve_fingerprint``).
    curve_points: int = 24
    curve_levels: int = 8
    curve_min_samples: int = 20
    curve_min_peak_n: int = 500
    # Pass rate: over a window of days, a station against the rest of the province.
    pass_rate_window_days: int = 30
    pass_rate_min_inspections: int = 50
    pass_rate_max_deviation: float = 0.20  # absolute, e.g. 0.97 against peers' 0.75
    # Hours: per station, or the default.
    default_hours: StationHours = field(default_factory=StationHours)
    station_hours: Mapping[str, StationHours] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("min_visit_s", "min_brake_run_s", "min_lamp_s", "min_free_acceleration_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"anomaly config: {name} must not be negative")
        if self.max_brake_force_per_load_g <= 0:
            raise ValueError("anomaly config: max_brake_force_per_load_g must be positive")
        if not 0 <= self.max_counter_jump < COUNTER_MODULUS // 2:
            raise ValueError(f"anomaly config: max_counter_jump must be 0..{COUNTER_MODULUS // 2 - 1}")
        if self.curve_points < 4 or not 2 <= self.curve_levels <= 255:
            raise ValueError("anomaly config: curve_points >= 4 and curve_levels 2..255")
        if not 0 < self.pass_rate_max_deviation < 1 or self.pass_rate_window_days < 1:
            raise ValueError("anomaly config: pass_rate_max_deviation 0..1 and a window of at least a day")

    def hours_of(self, station_id: str) -> StationHours:
        return self.station_hours.get(station_id, self.default_hours)


def brake_runs(record: InspectionRecord) -> Iterator[tuple[str, BrakeTest]]:
    """Every brake run in the order a lane makes them: per axle, service then parking."""
    for axle in record.axles:
        yield f"axle {axle.axle} service", axle.service
        if axle.parking is not None:
            yield f"axle {axle.axle} parking", axle.parking


# ------------------------------------------------------------------ rules over one record


def too_fast(record: InspectionRecord, config: AnomalyConfig) -> list[RuleHit]:
    """A visit shorter than its benches allow: every curve took its samples at its rate, every gas
    reading a second, and each run, lamp and acceleration a configured least time besides."""
    least = config.min_visit_s
    for _name, run in brake_runs(record):
        least += config.min_brake_run_s
        if run.curve is not None and run.curve.sample_rate_hz > 0:
            samples = max(len(run.curve.left_n), len(run.curve.right_n))
            least += samples / run.curve.sample_rate_hz
    least += config.min_lamp_s * len(record.lamps)
    emission = record.emission
    if isinstance(emission, TwoSpeedIdleRun):
        least += len(emission.high_idle) + len(emission.low_idle)
    elif isinstance(emission, FreeAccelerationRun):
        least += config.min_free_acceleration_s * len(emission.k_per_m)
    took = (record.finished_at - record.started_at).total_seconds()
    if took >= least:
        return []
    return [
        RuleHit(
            Rule.TOO_FAST,
            f"the visit took {took:.0f} s; its benches need at least {least:.0f} s "
            f"({sum(1 for _ in brake_runs(record))} brake runs, {len(record.lamps)} lamp readings"
            f"{', emission test' if emission is not None else ''})",
        )
    ]


def implausible_values(record: InspectionRecord, config: AnomalyConfig) -> list[RuleHit]:
    """Values outside physical range (``inspection.record_limits``; the hub refuses such records
    on arrival, so a hit here means the limits changed or a row came another way) and brake
    forces a wheel's load cannot produce."""
    hits: list[RuleHit] = []
    try:
        check_record(record)
    except RecordOutOfLimits as error:
        hits.append(RuleHit(Rule.IMPLAUSIBLE_VALUE, f"outside physical range: {error}"))
    for axle in record.axles:
        for run_name, run in (("service", axle.service), ("parking", axle.parking)):
            if run is None:
                continue
            for side, force, load in (
                ("left", run.left_max_n, axle.left_load_kg),
                ("right", run.right_max_n, axle.right_load_kg),
            ):
                if force is None or load is None or load <= 0:
                    continue
                ratio = force / (load * STANDARD_GRAVITY)
                if ratio > config.max_brake_force_per_load_g:
                    hits.append(
                        RuleHit(
                            Rule.IMPLAUSIBLE_VALUE,
                            f"axle {axle.axle} {run_name} {side}: {force:.0f} N braking on a {load:.0f} kg "
                            f"wheel is {ratio:.2f} g (more than {config.max_brake_force_per_load_g} g "
                            "is not physical on rollers)",
                        )
                    )
    return hits


def outside_hours(record: InspectionRecord, hours: StationHours) -> list[RuleHit]:
    """Work before the station opens or after it closes, in the station's local time."""
    zone = timezone(hours.utc_offset)
    start = record.started_at.astimezone(zone)
    end = record.finished_at.astimezone(zone)
    inside = start.date() == end.date() and hours.opens <= start.time() and end.time() <= hours.closes
    if inside:
        return []
    return [
        RuleHit(
            Rule.OUTSIDE_HOURS,
            f"inspected {start:%Y-%m-%d %H:%M}..{end:%H:%M} local time; the station works "
            f"{hours.opens:%H:%M}..{hours.closes:%H:%M}",
        )
    ]


def record_counters(record: InspectionRecord) -> list[tuple[str, int]]:
    """The bench's TEST_COUNTER of each brake run, in run order; 0 (not reported) left out."""
    return [(name, run.test_counter) for name, run in brake_runs(record) if run.test_counter != 0]


def counter_anomalies(record: InspectionRecord, previous: int | None, config: AnomalyConfig) -> list[RuleHit]:
    """The lane's brake bench counts every run: within a record and from the lane's previous
    record (``previous``: its last counter) each run's counter must be one more, modulo 2^16;
    a few more is an aborted run; the same is a repeated (copied) run; less, or many more, is
    another bench or runs made off the record."""
    hits: list[RuleHit] = []
    before: tuple[str, int] | None = (
        ("the lane's previous record", previous) if previous is not None else None
    )
    for name, counter in record_counters(record):
        if before is not None:
            step = (counter - before[1]) % COUNTER_MODULUS
            if step == 0:
                problem = "repeats"
            elif step >= COUNTER_MODULUS // 2:
                problem = "goes back from"
            elif step > config.max_counter_jump + 1:
                problem = f"jumps {step} from"
            else:
                problem = ""
            if problem:
                hits.append(
                    RuleHit(
                        Rule.TEST_COUNTER,
                        f"{name}: TEST_COUNTER {counter} {problem} {before[1]} ({before[0]}; "
                        f"expected {(before[1] + 1) % COUNTER_MODULUS}..{before[1] + 1 + config.max_counter_jump})",
                    )
                )
        before = (name, counter)
    return hits


# ------------------------------------------------------------------ rules across records


def curve_fingerprint(left: Sequence[int], right: Sequence[int], config: AnomalyConfig) -> str | None:
    """The shape of one brake run as a short hash: equal for copies, also when one was scaled.

    Both sides are trimmed to where either is above 5 % of the run's peak, resampled to
    ``curve_points`` by linear interpolation (time scaling), divided by the peak (force scaling)
    and quantized to ``curve_levels``; the hash of those levels is an indexable key, so finding
    another vehicle's copy is one equality look-up. Runs too short or too weak to have a shape
    give None. Near-identical curves land on the same key unless noise pushes a point across a
    level boundary; finer levels catch fewer copies and clash less.
    """
    if min(len(left), len(right)) < config.curve_min_samples:
        return None
    peak = max(max(left), max(right))
    if peak < config.curve_min_peak_n:
        return None
    floor = 0.05 * peak
    active = [i for i in range(min(len(left), len(right))) if left[i] > floor or right[i] > floor]
    if len(active) < 2:
        return None
    first, last = active[0], active[-1]
    levels = bytearray()
    for side in (left, right):
        span = side[first : last + 1]
        for point in _resample(span, config.curve_points):
            levels.append(
                max(0, min(config.curve_levels - 1, round(point / peak * (config.curve_levels - 1))))
            )
    return hashlib.sha256(bytes([config.curve_points, config.curve_levels]) + bytes(levels)).hexdigest()[:32]


def _resample(samples: Sequence[int], points: int) -> list[float]:
    if len(samples) == 1:
        return [float(samples[0])] * points
    out = []
    for k in range(points):
        position = k * (len(samples) - 1) / (points - 1)
        low = int(position)
        high = min(low + 1, len(samples) - 1)
        fraction = position - low
        out.append(samples[low] * (1 - fraction) + samples[high] * fraction)
    return out


def record_fingerprints(record: InspectionRecord, config: AnomalyConfig) -> list[tuple[str, str]]:
    """``(run name, fingerprint)`` of every brake run with a curve that has a shape."""
    prints = []
    for name, run in brake_runs(record):
        if run.curve is not None:
            fingerprint = curve_fingerprint(run.curve.left_n, run.curve.right_n, config)
            if fingerprint is not None:
                prints.append((name, fingerprint))
    return prints


def copied_curves(
    record: InspectionRecord, fingerprints: Sequence[tuple[str, str]], others: Mapping[str, Sequence[str]]
) -> list[RuleHit]:
    """A brake run whose shape another vehicle's run has. ``others``: fingerprint -> the VINs of
    other records with it (the queue's indexed look-up)."""
    hits = []
    for name, fingerprint in fingerprints:
        vins = sorted({vin for vin in others.get(fingerprint, ()) if vin != record.vehicle.vin})
        if vins:
            hits.append(
                RuleHit(
                    Rule.COPIED_CURVE,
                    f"{name}: the brake curve has the same shape (after scaling) as one of "
                    f"{', '.join(vins[:3])}{' and others' if len(vins) > 3 else ''} "
                    f"(fingerprint {fingerprint[:12]})",
                )
            )
    return hits


def shared_photos(record: InspectionRecord, others: Mapping[str, Sequence[str]]) -> list[RuleHit]:
    """A photo whose bytes (sha256) another vehicle's record has. ``others``: hash -> VINs."""
    hits = []
    for photo in record.photos:
        vins = sorted({vin for vin in others.get(photo.sha256, ()) if vin != record.vehicle.vin})
        if vins:
            hits.append(
                RuleHit(
                    Rule.SHARED_PHOTO,
                    f"photo {photo.item_code} ({photo.sha256[:12]}) is also in the record of "
                    f"{', '.join(vins[:3])}{' and others' if len(vins) > 3 else ''}",
                )
            )
    return hits


@dataclass(frozen=True, slots=True)
class Visit:
    """Another record of the same VIN: where and when."""

    station_id: str
    record_id: str
    started_at: datetime
    finished_at: datetime


def overlapping_visits(record: InspectionRecord, others: Sequence[Visit]) -> list[RuleHit]:
    """The same VIN inspected at another station while this visit ran: one of them was not there."""
    hits = []
    for other in others:
        if other.station_id == record.station_id or other.record_id == str(record.record_id):
            continue
        if other.started_at < record.finished_at and record.started_at < other.finished_at:
            hits.append(
                RuleHit(
                    Rule.OVERLAPPING_VISIT,
                    f"VIN {record.vehicle.vin} was inspected at station {other.station_id} "
                    f"{other.started_at:%Y-%m-%d %H:%M}..{other.finished_at:%H:%M} UTC, overlapping this "
                    f"visit {record.started_at:%H:%M}..{record.finished_at:%H:%M} UTC",
                )
            )
    return hits


@dataclass(frozen=True, slots=True)
class PassCounts:
    inspected: int
    passed: int

    @property
    def rate(self) -> float:
        return self.passed / self.inspected if self.inspected else 0.0


def pass_rate_outlier(
    station_id: str, outcome: Outcome | None, station: PassCounts, peers: PassCounts, config: AnomalyConfig
) -> list[RuleHit]:
    """A station whose pass rate over the window is far from its peers' (all other stations of the
    province together). Flags the records that push the same way: a station passing too many has
    its passes looked at, one failing too many (selling repairs) its failures."""
    if (
        station.inspected < config.pass_rate_min_inspections
        or peers.inspected < config.pass_rate_min_inspections
    ):
        return []
    deviation = station.rate - peers.rate
    if abs(deviation) <= config.pass_rate_max_deviation:
        return []
    if (deviation > 0 and outcome is not Outcome.PASS) or (deviation < 0 and outcome is not Outcome.FAIL):
        return []
    return [
        RuleHit(
            Rule.PASS_RATE_OUTLIER,
            f"station {station_id} passed {station.rate:.0%} of {station.inspected} inspections in the last "
            f"{config.pass_rate_window_days} days; its peers {peers.rate:.0%} of {peers.inspected}",
        )
    ]


def record_flags(
    record: InspectionRecord, verdict_mismatch: bool, station: str | None, hub: str | None
) -> list[RuleHit]:
    """Flags that need no rule: the hub disagrees with the station, a wheel slipped, a PDA finding
    was corrected."""
    hits = []
    if verdict_mismatch:
        hits.append(RuleHit(Rule.VERDICT_MISMATCH, f"the station's verdict is {station}, the hub's {hub}"))
    for name, run in brake_runs(record):
        sides = [side for side, slipped in (("left", run.slip_left), ("right", run.slip_right)) if slipped]
        if sides:
            hits.append(
                RuleHit(Rule.WHEEL_SLIP, f"{name}: the {' and '.join(sides)} wheel slipped on the rollers")
            )
    for check in record.visual_checks:
        if check.correction_reason:
            hits.append(
                RuleHit(
                    Rule.PDA_CORRECTION,
                    f"check {check.item_code} corrected by {check.inspector_id} to "
                    f"{'pass' if check.passed else 'fail'}: {check.correction_reason}",
                )
            )
    return hits
