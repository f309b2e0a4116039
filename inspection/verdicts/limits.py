"""Every limit value the verdict rules use, in one typed table, each with its clause and evidence.

Where the values come from: /work/shared/domain/standards.md, sections 2-5 and 10. That summary tags each
value **[src]** (seen in public material quoting the standard) or **[mem]** (recalled, not yet
checked against the standard's text); the tag is kept here as ``Evidence``, and an entry whose case
standards.md calls open carries the question in ``open_question``. [mem] values are configuration a
province may correct: ``LimitTable.replace`` returns a table with one value changed, and every rule
takes the table as a parameter (``DEFAULT_LIMITS`` unless told otherwise).

Clauses are cited to the depth standards.md gives (e.g. "GB 7258-2017 7.13"); deeper sub-clause
numbers were not checked against the standard's text, so none are invented here.

Two rules for this file: values live only here (no literal limit in a rule module), and every entry
says where it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType

from inspection.errors import InspectionError
from inspection.verdict import Outcome, VerdictItem


class Evidence(StrEnum):
    SOURCE = "src"  # seen in public material describing the standard
    MEMORY = "mem"  # recalled, not yet checked against the standard's text
    OURS = "ours"  # our reading where the standard (as summarised) is silent


class Bound(StrEnum):
    """Which side of the limit passes: at least (``MIN``) or at most (``MAX``) the value.

    Verdict item codes end in ``.min`` or ``.max`` accordingly, so the direction travels with the
    item through the protobuf contract and the hub's JSON without a field of its own.
    """

    MIN = "min"
    MAX = "max"

    def passes(self, measured: float, limit: float) -> bool:
        return measured >= limit if self is Bound.MIN else measured <= limit

    @property
    def symbol(self) -> str:
        return "≥" if self is Bound.MIN else "≤"


class Rule(StrEnum):
    # Brakes, GB 7258-2017 7.13 / 7.14 with the method of GB 38900-2020 Annex D (standards.md §2).
    SERVICE_VEHICLE_RATE = "service_vehicle_rate"
    SERVICE_FRONT_AXLE_RATE = "service_front_axle_rate"
    SERVICE_REAR_AXLE_RATE = "service_rear_axle_rate"
    IMBALANCE_FRONT = "imbalance_front"
    IMBALANCE_OTHER = "imbalance_other"  # axle force >= the threshold below: ratio to the larger force
    IMBALANCE_OTHER_THRESHOLD = "imbalance_other_threshold"  # axle rate from which IMBALANCE_OTHER applies
    IMBALANCE_OTHER_LOW_FORCE = "imbalance_other_low_force"  # below it: ratio to the axle load
    DRAG = "drag"
    PARKING_RATE = "parking_rate"
    PARKING_LIGHT_LOAD_MASS_RATIO = "parking_light_load_mass_ratio"  # total < ratio x curb -> 15 %
    # Headlamps, GB 7258-2017 8.5 (standards.md §3).
    HIGH_BEAM_INTENSITY = "high_beam_intensity"
    LOW_BEAM_VERTICAL = "low_beam_vertical"  # elbow height / lamp centre height H
    LOW_BEAM_HORIZONTAL = "low_beam_horizontal"  # mm, positive to the right
    HIGH_BEAM_VERTICAL = "high_beam_vertical"
    HIGH_BEAM_HORIZONTAL = "high_beam_horizontal"
    # Petrol two-speed idle, GB 18285-2018 (standards.md §4).
    TSI_LOW_IDLE_CO = "tsi_low_idle_co"
    TSI_LOW_IDLE_HC = "tsi_low_idle_hc"
    TSI_HIGH_IDLE_CO = "tsi_high_idle_co"
    TSI_HIGH_IDLE_HC = "tsi_high_idle_hc"
    TSI_HIGH_IDLE_LAMBDA = "tsi_high_idle_lambda"
    TSI_DILUTION_CO_PLUS_CO2 = "tsi_dilution_co_plus_co2"  # a reading below it is diluted
    # Diesel free acceleration, GB 3847-2018 (standards.md §5).
    FREE_ACCELERATION_K = "free_acceleration_k"
    # OBD check, GB 18285-2018 / GB 3847-2018 (standards.md §10); variant "petrol" or "diesel".
    OBD_MIL_EMISSION_DTCS = "obd_mil_emission_dtcs"  # stored emission DTCs while the MIL is on
    OBD_READINESS_INCOMPLETE = "obd_readiness_incomplete"  # supported monitors not yet complete
    # Petrol steady-state loaded test (ASM), GB 18285-2018 (standards.md §10). Variant "<set>".
    ASM5025_CO = "asm5025_co"
    ASM5025_HC = "asm5025_hc"
    ASM5025_NO = "asm5025_no"
    ASM2540_CO = "asm2540_co"
    ASM2540_HC = "asm2540_hc"
    ASM2540_NO = "asm2540_no"
    ASM_SPEED_TOLERANCE = "asm_speed_tolerance"  # km/h either side of 25.0 / 40.0
    ASM_SPEED_EXCURSION = "asm_speed_excursion"  # s outside the window before the phase restarts
    ASM_FAST_PASS_FRACTION = "asm_fast_pass_fraction"  # "well inside": every average <= this x limit
    ASM_DILUTION_CO_PLUS_CO2 = "asm_dilution_co_plus_co2"  # below it the probe is not in the exhaust
    ASM_DF_MAX = "asm_df_max"  # the dilution factor is never taken above this
    ASM_KH_COEFFICIENT = "asm_kh_coefficient"  # kH = 1 / (1 - c (H - H0)), H in g water / kg dry air
    ASM_KH_REFERENCE_HUMIDITY = "asm_kh_reference_humidity"  # H0
    # Diesel lug-down, GB 3847-2018 (standards.md §10). Variant "<set>".
    LUG_DOWN_K = "lug_down_k"
    LUG_DOWN_NOX = "lug_down_nox"
    LUG_DOWN_MIN_POWER_RATIO = "lug_down_min_power_ratio"  # max wheel power / rated engine power


@dataclass(frozen=True, slots=True)
class Limit:
    rule: Rule
    variant: str  # which vehicles / limit set / bound it is for; "" when there is only one
    value: float
    unit: str
    bound: Bound
    clause: str
    evidence: Evidence
    open_question: str = ""  # non-empty where standards.md marks the value or the case open


class UnknownLimit(InspectionError, KeyError):
    """The table has no entry for this rule and variant (a limit set or class it does not know)."""

    def __init__(self, rule: Rule, variant: str) -> None:
        super().__init__(f"no limit for rule {rule.value!r}, variant {variant!r}")
        self.rule = rule
        self.variant = variant


@dataclass(frozen=True, slots=True)
class LimitTable:
    entries: Mapping[tuple[Rule, str], Limit] = field(default_factory=dict)

    @classmethod
    def of(cls, limits: Iterable[Limit]) -> LimitTable:
        entries: dict[tuple[Rule, str], Limit] = {}
        for limit in limits:
            key = (limit.rule, limit.variant)
            if key in entries:
                raise ValueError(f"limit table: rule {limit.rule.value!r} variant {limit.variant!r} twice")
            entries[key] = limit
        return cls(MappingProxyType(entries))

    def get(self, rule: Rule, variant: str = "") -> Limit:
        try:
            return self.entries[(rule, variant)]
        except KeyError:
            raise UnknownLimit(rule, variant) from None

    def has(self, rule: Rule, variant: str = "") -> bool:
        return (rule, variant) in self.entries

    def replace(self, rule: Rule, variant: str = "", **changes: object) -> LimitTable:
        """A copy with one entry changed, e.g. ``replace(Rule.DRAG, value=5.0, clause=...)``."""
        old = self.get(rule, variant)
        entries = dict(self.entries)
        # The keyword names are checked at run time by dataclasses.replace (TypeError on an unknown
        # field); mypy cannot check a **changes of mixed value types against Limit's fields.
        entries[(rule, variant)] = dataclass_replace(old, **changes)  # type: ignore[arg-type]
        return LimitTable(MappingProxyType(entries))

    def __iter__(self) -> Iterator[Limit]:
        return iter(self.entries.values())


# Physical constants and our choices, also one place each.

# standards.md §2: g = 9.8 m/s² [mem: some systems use 9.81].
G_M_PER_S2 = 9.8

# Highest tyre/roller adhesion coefficient we accept as physically possible (our choice): peak
# tyre-road friction on dry asphalt is about 0.9-1.0 and roller surfaces are made to give about
# 0.7-0.8, so a wheel force above 1.2 x wheel load x g cannot be a real brake force - it is a
# sensor or scale fault, and the rules say "cannot judge" rather than let it inflate a rate.
MAX_ADHESION = 1.2

# standards.md §2: "Percentages are reported to one decimal [mem]". Rounded half up (59.95 -> 60.0),
# and the rounded value is the one compared with the limit, so the printed figure explains the
# outcome. Gas and smoke values are rounded likewise (standards.md is silent: our choice).
PERCENT_DECIMALS = 1
CO_DECIMALS = 2
HC_DECIMALS = 0
LAMBDA_DECIMALS = 2
K_DECIMALS = 2
# Free acceleration: the result is the mean of exactly this many measured accelerations (§5 [mem]).
FREE_ACCELERATION_COUNT = 3
NO_DECIMALS = 0
POWER_DECIMALS = 1
# ASM: results are averages over this many seconds (§10 [mem]).
ASM_AVERAGE_S = 10

_BRAKE = "GB 7258-2017 7.13; method GB 38900-2020 Annex D"
_PARKING = "GB 7258-2017 7.14; method GB 38900-2020 Annex D"
_LAMP = "GB 7258-2017 8.5; method GB 38900-2020"
_TSI = "GB 18285-2018 two-speed idle, limit set {}"
_FA = "GB 3847-2018 free acceleration, limit set {}"
_OBD_CLAUSES = {"petrol": "GB 18285-2018 OBD check", "diesel": "GB 3847-2018 OBD check"}
_READINESS_OPEN = (
    "allowed count of incomplete monitors is open (standards.md §10); 2 is recalled, not confirmed - "
    "set it per province"
)
_ASM = "GB 18285-2018 steady-state loaded test (ASM), limit set {}"
_ASM_METHOD = "GB 18285-2018 steady-state loaded test (ASM)"
_LUG = "GB 3847-2018 lug-down, limit set {}"
_LUG_METHOD = "GB 3847-2018 lug-down"
_POSITION_OPEN = "beam position values: sources disagree (standards.md §3) - confirm per province"

DEFAULT_LIMITS = LimitTable.of(
    [
        # --- service brake, whole vehicle: sum of max forces / (sum of axle loads x g); the record
        # says whether the vehicle was tested laden. "articulated": articulated buses and road trains.
        Limit(Rule.SERVICE_VEHICLE_RATE, "", 60.0, "%", Bound.MIN, _BRAKE, Evidence.SOURCE),
        Limit(Rule.SERVICE_VEHICLE_RATE, "articulated", 55.0, "%", Bound.MIN, _BRAKE, Evidence.SOURCE),
        Limit(Rule.SERVICE_VEHICLE_RATE, "laden", 50.0, "%", Bound.MIN, _BRAKE, Evidence.SOURCE),
        Limit(Rule.SERVICE_VEHICLE_RATE, "articulated.laden", 45.0, "%", Bound.MIN, _BRAKE, Evidence.SOURCE),
        # --- per axle: (left max + right max) / (axle load x g).
        Limit(Rule.SERVICE_FRONT_AXLE_RATE, "", 60.0, "%", Bound.MIN, _BRAKE, Evidence.SOURCE),
        # "light": passenger cars (M1) and other vehicles <= 3,500 kg total mass; "other": the rest.
        Limit(Rule.SERVICE_REAR_AXLE_RATE, "light", 20.0, "%", Bound.MIN, _BRAKE, Evidence.SOURCE),
        Limit(Rule.SERVICE_REAR_AXLE_RATE, "other", 50.0, "%", Bound.MIN, _BRAKE, Evidence.SOURCE),
        # --- imbalance: largest simultaneous |left - right| during the force build-up.
        Limit(Rule.IMBALANCE_FRONT, "", 20.0, "%", Bound.MAX, _BRAKE, Evidence.SOURCE),
        Limit(Rule.IMBALANCE_OTHER, "", 24.0, "%", Bound.MAX, _BRAKE, Evidence.SOURCE),
        Limit(Rule.IMBALANCE_OTHER_THRESHOLD, "", 60.0, "%", Bound.MIN, _BRAKE, Evidence.SOURCE),
        Limit(Rule.IMBALANCE_OTHER_LOW_FORCE, "", 8.0, "%", Bound.MAX, _BRAKE, Evidence.SOURCE),
        # --- drag per wheel: drag force / (axle load x g).
        Limit(
            Rule.DRAG,
            "",
            10.0,
            "%",
            Bound.MAX,
            _BRAKE,
            Evidence.MEMORY,
            open_question="one source citing GB 7258 7.14.1.4 gives 5 % (standards.md §2): open",
        ),
        # --- parking brake: sum of parking forces / (vehicle weight as tested x g).
        Limit(Rule.PARKING_RATE, "", 20.0, "%", Bound.MIN, _PARKING, Evidence.SOURCE),
        Limit(Rule.PARKING_RATE, "light_load", 15.0, "%", Bound.MIN, _PARKING, Evidence.SOURCE),
        Limit(Rule.PARKING_LIGHT_LOAD_MASS_RATIO, "", 1.2, "", Bound.MAX, _PARKING, Evidence.SOURCE),
        # --- headlamps: high-beam intensity per lamp (cars and trucks, not three-wheel).
        Limit(Rule.HIGH_BEAM_INTENSITY, "new.two_lamp", 18000, "cd", Bound.MIN, _LAMP, Evidence.SOURCE),
        Limit(
            Rule.HIGH_BEAM_INTENSITY,
            "new.four_lamp",
            15000,
            "cd",
            Bound.MIN,
            _LAMP,
            Evidence.SOURCE,
            open_question="4-lamp: a symmetric pair meeting the 2-lamp value passes [mem]; the record "
            "holds one lamp per side, so this cannot arise here",
        ),
        Limit(Rule.HIGH_BEAM_INTENSITY, "in_use.two_lamp", 15000, "cd", Bound.MIN, _LAMP, Evidence.SOURCE),
        Limit(
            Rule.HIGH_BEAM_INTENSITY,
            "in_use.four_lamp",
            12000,
            "cd",
            Bound.MIN,
            _LAMP,
            Evidence.SOURCE,
            open_question="4-lamp: a symmetric pair meeting the 2-lamp value passes [mem]; the record "
            "holds one lamp per side, so this cannot arise here",
        ),
        # --- beam position on a screen 10 m ahead; vertical as a fraction of H (lamp centre height).
        Limit(Rule.LOW_BEAM_VERTICAL, "M1.min", 0.70, "H", Bound.MIN, _LAMP, Evidence.MEMORY, _POSITION_OPEN),
        Limit(Rule.LOW_BEAM_VERTICAL, "M1.max", 0.90, "H", Bound.MAX, _LAMP, Evidence.MEMORY, _POSITION_OPEN),
        Limit(
            Rule.LOW_BEAM_VERTICAL, "other.min", 0.60, "H", Bound.MIN, _LAMP, Evidence.MEMORY, _POSITION_OPEN
        ),
        Limit(
            Rule.LOW_BEAM_VERTICAL, "other.max", 0.80, "H", Bound.MAX, _LAMP, Evidence.MEMORY, _POSITION_OPEN
        ),
        Limit(Rule.LOW_BEAM_HORIZONTAL, "min", -170, "mm", Bound.MIN, _LAMP, Evidence.MEMORY, _POSITION_OPEN),
        Limit(Rule.LOW_BEAM_HORIZONTAL, "max", 350, "mm", Bound.MAX, _LAMP, Evidence.MEMORY, _POSITION_OPEN),
        # High-beam centre: only judged for lamps whose high beam is adjusted separately.
        Limit(Rule.HIGH_BEAM_VERTICAL, "min", 0.85, "H", Bound.MIN, _LAMP, Evidence.MEMORY, _POSITION_OPEN),
        Limit(Rule.HIGH_BEAM_VERTICAL, "max", 0.95, "H", Bound.MAX, _LAMP, Evidence.MEMORY, _POSITION_OPEN),
        Limit(
            Rule.HIGH_BEAM_HORIZONTAL, "min", -170, "mm", Bound.MIN, _LAMP, Evidence.MEMORY, _POSITION_OPEN
        ),
        Limit(Rule.HIGH_BEAM_HORIZONTAL, "max", 350, "mm", Bound.MAX, _LAMP, Evidence.MEMORY, _POSITION_OPEN),
        # --- two-speed idle: means over the measured seconds of each phase. All [mem, widely quoted].
        Limit(Rule.TSI_LOW_IDLE_CO, "a", 0.6, "%vol", Bound.MAX, _TSI.format("a"), Evidence.MEMORY),
        Limit(Rule.TSI_LOW_IDLE_CO, "b", 0.4, "%vol", Bound.MAX, _TSI.format("b"), Evidence.MEMORY),
        Limit(Rule.TSI_LOW_IDLE_HC, "a", 80, "ppm", Bound.MAX, _TSI.format("a"), Evidence.MEMORY),
        Limit(Rule.TSI_LOW_IDLE_HC, "b", 40, "ppm", Bound.MAX, _TSI.format("b"), Evidence.MEMORY),
        Limit(Rule.TSI_HIGH_IDLE_CO, "a", 0.3, "%vol", Bound.MAX, _TSI.format("a"), Evidence.MEMORY),
        Limit(Rule.TSI_HIGH_IDLE_CO, "b", 0.3, "%vol", Bound.MAX, _TSI.format("b"), Evidence.MEMORY),
        Limit(Rule.TSI_HIGH_IDLE_HC, "a", 50, "ppm", Bound.MAX, _TSI.format("a"), Evidence.MEMORY),
        Limit(Rule.TSI_HIGH_IDLE_HC, "b", 30, "ppm", Bound.MAX, _TSI.format("b"), Evidence.MEMORY),
        Limit(Rule.TSI_HIGH_IDLE_LAMBDA, "a.min", 0.95, "", Bound.MIN, _TSI.format("a"), Evidence.MEMORY),
        Limit(Rule.TSI_HIGH_IDLE_LAMBDA, "a.max", 1.05, "", Bound.MAX, _TSI.format("a"), Evidence.MEMORY),
        Limit(Rule.TSI_HIGH_IDLE_LAMBDA, "b.min", 0.95, "", Bound.MIN, _TSI.format("b"), Evidence.MEMORY),
        Limit(Rule.TSI_HIGH_IDLE_LAMBDA, "b.max", 1.05, "", Bound.MAX, _TSI.format("b"), Evidence.MEMORY),
        # A reading with CO + CO2 below this is diluted and invalidates the run (§4 [mem]).
        Limit(Rule.TSI_DILUTION_CO_PLUS_CO2, "", 6.0, "%vol", Bound.MIN, "GB 18285-2018", Evidence.MEMORY),
        # --- free acceleration: mean of the three peak light-absorption coefficients K.
        Limit(Rule.FREE_ACCELERATION_K, "a", 1.2, "m⁻¹", Bound.MAX, _FA.format("a"), Evidence.MEMORY),
        Limit(Rule.FREE_ACCELERATION_K, "b", 0.7, "m⁻¹", Bound.MAX, _FA.format("b"), Evidence.MEMORY),
        # --- OBD check: "the MIL must be off, or if on, no emission-related stored DTCs" (§10 [mem]).
        *(
            Limit(Rule.OBD_MIL_EMISSION_DTCS, variant, 0, "DTCs", Bound.MAX, clause, Evidence.MEMORY)
            for variant, clause in _OBD_CLAUSES.items()
        ),
        # "readiness monitors incomplete beyond the allowed count fail [count: open]" (§10).
        *(
            Limit(
                Rule.OBD_READINESS_INCOMPLETE,
                variant,
                2,
                "monitors",
                Bound.MAX,
                clause,
                Evidence.MEMORY,
                open_question=_READINESS_OPEN,
            )
            for variant, clause in _OBD_CLAUSES.items()
        ),
        # --- ASM: 10-second averages, HC / CO / NO corrected for dilution, NO also for humidity.
        # All [mem] (standards.md §10: "confirm every number").
        *(
            Limit(rule, limit_set, value, unit, Bound.MAX, _ASM.format(limit_set), Evidence.MEMORY)
            for rule, unit, a, b in (
                (Rule.ASM5025_CO, "%vol", 0.50, 0.35),
                (Rule.ASM5025_HC, "ppm", 90, 47),
                (Rule.ASM5025_NO, "ppm", 700, 420),
                (Rule.ASM2540_CO, "%vol", 0.40, 0.30),
                (Rule.ASM2540_HC, "ppm", 80, 44),
                (Rule.ASM2540_NO, "ppm", 650, 390),
            )
            for limit_set, value in (("a", a), ("b", b))
        ),
        Limit(Rule.ASM_SPEED_TOLERANCE, "", 2.0, "km/h", Bound.MAX, _ASM_METHOD, Evidence.MEMORY),
        Limit(
            Rule.ASM_SPEED_EXCURSION,
            "",
            2.0,
            "s",
            Bound.MAX,
            _ASM_METHOD,
            Evidence.MEMORY,
            open_question="standards.md §10: 'for more than a few seconds'; 2 s is ours until confirmed",
        ),
        Limit(
            Rule.ASM_FAST_PASS_FRACTION,
            "",
            0.5,
            "",
            Bound.MAX,
            _ASM_METHOD,
            Evidence.OURS,
            open_question="standards.md §10 says 'well inside the limits' without a figure: 50 % is ours",
        ),
        Limit(Rule.ASM_DILUTION_CO_PLUS_CO2, "", 6.0, "%vol", Bound.MIN, _ASM_METHOD, Evidence.MEMORY),
        Limit(Rule.ASM_DF_MAX, "", 3.0, "", Bound.MAX, _ASM_METHOD, Evidence.MEMORY),
        Limit(Rule.ASM_KH_COEFFICIENT, "", 0.0329, "kg/g", Bound.MAX, _ASM_METHOD, Evidence.MEMORY),
        Limit(Rule.ASM_KH_REFERENCE_HUMIDITY, "", 10.71, "g/kg", Bound.MAX, _ASM_METHOD, Evidence.MEMORY),
        # --- lug-down: K at 100 / 90 / 80 % of VelMaxHP, NOx at 80 %, max wheel power >= 40 % rated.
        Limit(Rule.LUG_DOWN_K, "a", 1.2, "m⁻¹", Bound.MAX, _LUG.format("a"), Evidence.MEMORY),
        Limit(Rule.LUG_DOWN_K, "b", 0.7, "m⁻¹", Bound.MAX, _LUG.format("b"), Evidence.MEMORY),
        Limit(Rule.LUG_DOWN_NOX, "a", 1500, "ppm", Bound.MAX, _LUG.format("a"), Evidence.MEMORY),
        Limit(Rule.LUG_DOWN_NOX, "b", 900, "ppm", Bound.MAX, _LUG.format("b"), Evidence.MEMORY),
        Limit(
            Rule.LUG_DOWN_MIN_POWER_RATIO,
            "",
            40.0,
            "%",
            Bound.MIN,
            _LUG_METHOD,
            Evidence.MEMORY,
            open_question="the engine-speed band at VelMaxHP around rated speed is open (standards.md §10): "
            "recorded, not judged",
        ),
    ]
)


def round_half_up(value: float, decimals: int) -> float:
    """``value`` rounded half up to ``decimals`` places, as a person would round the printed number.

    Goes through ``repr`` (the shortest decimal that reads back as the same float), so 59.95 rounds
    to 60.0 as on paper rather than to 59.9 as its binary value 59.9499... would.
    """
    if not math.isfinite(value) or abs(value) >= 1e15:
        return value  # a float this large has no fractional digits left to round
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def judged_item(
    code: str, limit: Limit, measured: float, note: str = "", *, limit_value: float | None = None
) -> VerdictItem:
    """The item comparing ``measured`` (already rounded as reported) with ``limit``.

    ``limit_value`` overrides the table value where the limit is derived from it (a fraction of H
    turned into millimetres). The code must end with the bound, so readers know the direction.
    """
    value = limit.value if limit_value is None else limit_value
    _check_code(code, limit)
    outcome = Outcome.PASS if limit.bound.passes(measured, value) else Outcome.FAIL
    return VerdictItem(code, limit.clause, measured, value, _unit(limit, limit_value), outcome, note)


def unjudged_item(
    code: str, limit: Limit, reason: str, measured: float | None = None, *, limit_value: float | None = None
) -> VerdictItem:
    """A CANNOT_JUDGE item: ``reason`` says what was missing or impossible."""
    _check_code(code, limit)
    value = limit.value if limit_value is None else limit_value
    return VerdictItem(
        code, limit.clause, measured, value, _unit(limit, limit_value), Outcome.CANNOT_JUDGE, reason
    )


def _unit(limit: Limit, limit_value: float | None) -> str:
    # Fractions of H are turned into millimetres on the screen by the headlamp rules.
    return "mm" if limit_value is not None and limit.unit == "H" else limit.unit


def _check_code(code: str, limit: Limit) -> None:
    if not code.endswith("." + limit.bound.value):
        raise ValueError(
            f"item code {code!r} must end with '.{limit.bound.value}' (bound of {limit.rule.value})"
        )
