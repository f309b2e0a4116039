"""The owner's inspection report: vehicle, every verdict item, the overall result and the brake
force curves of each axle, drawn with matplotlib (Agg) to one PDF and one PNG.

Which verdict is shown: the hub's when given (the authority of record), else the station's signed
verdict, else one recomputed here with ``inspection.verdicts.judge``; the header says which, and
shows the station's overall result too when it differs from the hub's.

Chinese text: labels are English, with the Chinese term beside them only when a CJK font is
installed (``cjk_font()``); without one, the plate's province character is written in pinyin and
any other Chinese text (an inspector's note) is replaced by a marker, so the report never shows
boxes in place of missing glyphs.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a station PC service; must precede pyplot

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from inspection import AxleBrake, BrakeCurve, InspectionRecord, Outcome, Verdict, VerdictItem
from inspection.measurements import BrakeTest
from inspection.verdicts import Bound, bound_of, force_build_up, judge
from station_agent.errors import StationAgentError

# Families that carry CJK glyphs, in order of preference, if any is installed.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "AR PL UMing CN",
)

# Plate province characters in pinyin, for a report drawn without a CJK font.
PROVINCE_PINYIN = {
    "京": "Jing", "津": "Jin", "冀": "Ji", "晋": "Jin", "蒙": "Meng", "辽": "Liao", "吉": "Ji",
    "黑": "Hei", "沪": "Hu", "苏": "Su", "浙": "Zhe", "皖": "Wan", "闽": "Min", "赣": "Gan",
    "鲁": "Lu", "豫": "Yu", "鄂": "E", "湘": "Xiang", "粤": "Yue", "桂": "Gui", "琼": "Qiong",
    "渝": "Yu", "川": "Chuan", "贵": "Gui", "云": "Yun", "藏": "Zang", "陕": "Shaan", "甘": "Gan",
    "青": "Qing", "宁": "Ning", "新": "Xin",
}  # fmt: skip

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+")
CJK_MARKER = "[zh]"

_OUTCOME_TEXT = {Outcome.PASS: "PASS", Outcome.FAIL: "FAIL", Outcome.CANNOT_JUDGE: "CANNOT JUDGE"}
_OUTCOME_ZH = {Outcome.PASS: "合格", Outcome.FAIL: "不合格", Outcome.CANNOT_JUDGE: "无法判定"}
_OUTCOME_COLOUR = {Outcome.PASS: "#1a7f37", Outcome.FAIL: "#cf222e", Outcome.CANNOT_JUDGE: "#bf8700"}

# Decimals a value is printed with, by unit (the rules round percentages to one decimal).
_DECIMALS = {"%": 1, "%vol": 2, "ppm": 0, "m⁻¹": 2, "": 2}
# Units printed as the value itself: whole tester readings, limits like 458.5 mm as they are.
_AS_IS = frozenset({"cd", "mm"})

_PAGE_WIDTH_IN = 8.27  # A4
_ROW_LINE_IN = 0.15
_HEADER_IN = 1.85
_CURVE_ROW_IN = 2.3


class ReportError(StationAgentError):
    """The report could not be written; the message names the file or the problem."""


@cache
def cjk_font() -> str | None:
    """The name of an installed font with Chinese glyphs, or None."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


def plate_text(plate: str, *, cjk: bool) -> str:
    if cjk or not plate:
        return plate
    head, rest = plate[0], plate[1:]
    if head in PROVINCE_PINYIN:
        return f"{PROVINCE_PINYIN[head]}·{rest}"
    return latin_only(plate)


def latin_only(text: str) -> str:
    """``text`` with any run of Chinese characters replaced by a marker (no CJK font to draw them)."""
    return _CJK.sub(CJK_MARKER, text)


def item_label(code: str) -> tuple[str, str]:
    """An English label and the Chinese term for an item code (fallback: the code itself)."""
    parts = code.split(".")
    if parts[0] == "visual":
        return f"Visual: {'.'.join(parts[1:])}", "外观检验"
    if code.startswith("brake.service.vehicle.rate"):
        return "Service brake, whole vehicle", "整车制动率"
    if code.startswith("brake.parking.vehicle.rate"):
        return "Parking brake", "驻车制动率"
    match = re.fullmatch(
        r"brake\.service\.axle(\d+)\.(rate|imbalance|drag)(?:\.(left|right))?\.(min|max)", code
    )
    if match:
        axle, quantity, side = match[1], match[2], match[3]
        english = {"rate": "braking rate", "imbalance": "imbalance", "drag": "drag"}[quantity]
        chinese = {"rate": "轴制动率", "imbalance": "制动不平衡率", "drag": "阻滞率"}[quantity]
        return f"Axle {axle} {english}" + (f", {side}" if side else ""), chinese
    match = re.fullmatch(r"lamp\.(left|right)\.(high|low)\.(intensity|vertical|horizontal)\.(min|max)", code)
    if match:
        side, beam, quantity, bound = match.groups()
        english = {"intensity": "intensity", "vertical": "height", "horizontal": "offset"}[quantity]
        chinese = {"intensity": "远光发光强度", "vertical": "垂直位置", "horizontal": "水平位置"}[quantity]
        suffix = "" if quantity == "intensity" else f" ({bound})"
        return f"{side.capitalize()} {beam} beam {english}{suffix}", chinese
    match = re.fullmatch(r"emission\.tsi\.(low_idle|high_idle)\.(co|hc|lambda)\.(min|max)", code)
    if match:
        phase, gas, bound = match.groups()
        name = {"co": "CO", "hc": "HC", "lambda": "lambda"}[gas]
        suffix = f" ({bound})" if gas == "lambda" else ""
        return f"{phase.replace('_', ' ').capitalize()} {name}{suffix}", "双怠速"
    if code.startswith("emission.free_acceleration.k"):
        return "Free acceleration K", "自由加速烟度"
    match = re.fullmatch(r"emission\.(asm5025|asm2540)\.(co|hc|no)\.max", code)
    if match:
        mode, gas = match.groups()
        return f"{mode.upper()} {gas.upper()} (10 s average, corrected)", "稳态工况法"
    match = re.fullmatch(r"emission\.lug_down\.(k|nox)(\d+)\.max", code)
    if match:
        quantity, fraction = match.groups()
        return f"Lug-down {'K' if quantity == 'k' else 'NOx'} at {fraction} % VelMaxHP", "加载减速"
    if code == "emission.lug_down.wheel_power.min":
        return "Lug-down max wheel power / rated power", "加载减速"
    return code, ""


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in _AS_IS:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    decimals = _DECIMALS.get(unit, 2)
    return f"{value:.{decimals}f}"


def limit_text(item: VerdictItem) -> str:
    if item.limit is None:
        return "-"
    bound = bound_of(item)
    symbol = "" if bound is None else ("≥ " if bound is Bound.MIN else "≤ ")
    return symbol + format_value(item.limit, item.unit)


@dataclass(frozen=True, slots=True)
class _ChosenVerdict:
    verdict: Verdict
    source: str  # "hub", "station" or "recomputed"
    station_overall: Outcome | None


def _choose(record: InspectionRecord, hub_verdict: Verdict | None) -> _ChosenVerdict:
    station = record.station_verdict.overall if record.station_verdict is not None else None
    if hub_verdict is not None:
        return _ChosenVerdict(hub_verdict, "hub", station)
    if record.station_verdict is not None:
        return _ChosenVerdict(record.station_verdict, "station", station)
    return _ChosenVerdict(judge(record), "recomputed", None)


# ------------------------------------------------------------------ drawing


def _text(cjk: bool, english: str, chinese: str = "") -> str:
    return f"{english} {chinese}" if cjk and chinese else english


def _draw_header(
    fig: Figure, top: float, record: InspectionRecord, chosen: _ChosenVerdict, cjk: bool
) -> None:
    height = fig.get_figheight()

    def y(inches: float) -> float:
        return 1 - (top + inches) / height

    v = record.vehicle
    overall = chosen.verdict.overall
    fig.text(
        0.04, y(0.35), _text(cjk, "Vehicle inspection report", "机动车检验报告"), fontsize=15, weight="bold"
    )
    fig.text(
        0.96,
        y(0.35),
        _text(cjk, _OUTCOME_TEXT[overall], _OUTCOME_ZH[overall]),
        fontsize=15,
        weight="bold",
        color="white",
        ha="right",
        bbox={"boxstyle": "round,pad=0.3", "facecolor": _OUTCOME_COLOUR[overall], "edgecolor": "none"},
    )
    source = {"hub": "hub verdict", "station": "station verdict (signed)", "recomputed": "recomputed verdict"}
    lines_left = [
        f"Plate: {plate_text(v.plate, cjk=cjk)}      VIN: {v.vin}",
        f"Class: {v.vehicle_class.value}   Fuel: {v.fuel.value}   Use: {v.use.value}   Seats: {v.seats}",
        f"Registered: {v.registration_date.isoformat()} (province {v.registration_province})",
        f"Curb / total mass: {v.curb_mass_kg} / {v.max_total_mass_kg} kg   Axles: {v.axle_count}"
        f"   Lamps: {v.lamp_system.value.replace('_', '-')}",
    ]
    lines_right = [
        f"Record: {record.record_id}",
        f"Station {latin_only(record.station_id)}, lane {record.lane}",
        f"Started: {record.started_at:%Y-%m-%d %H:%M %Z}",
        f"Result from: {source[chosen.source]}",
    ]
    if chosen.source == "hub" and chosen.station_overall not in (None, overall):
        assert chosen.station_overall is not None
        lines_right.append(f"Station said: {_OUTCOME_TEXT[chosen.station_overall]} (differs)")
    for i, line in enumerate(lines_left):
        fig.text(0.04, y(0.8 + i * 0.22), line, fontsize=8.5)
    for i, line in enumerate(lines_right):
        fig.text(0.56, y(0.8 + i * 0.22), line, fontsize=8.5)


# Column x positions (figure fraction) and the width of the note column in characters.
_COLUMNS = (
    ("Item", 0.04),
    ("Measured", 0.34),
    ("Limit", 0.44),
    ("Unit", 0.54),
    ("Result", 0.60),
    ("Note", 0.72),
)
_NOTE_CHARS = 42
_LABEL_CHARS = 44


def _item_lines(item: VerdictItem, cjk: bool) -> tuple[list[str], list[str]]:
    english, chinese = item_label(item.code)
    label = _text(cjk, english, chinese)
    clause = textwrap.wrap(item.clause, _LABEL_CHARS) or [""]
    note_text = item.note if cjk else latin_only(item.note)
    notes = textwrap.wrap(note_text, _NOTE_CHARS) or [""]
    return [label, *clause], notes


def _draw_items(fig: Figure, top: float, items: Sequence[VerdictItem], cjk: bool) -> float:
    """Draw the item table starting ``top`` inches from the figure's top; return its height."""
    height = fig.get_figheight()
    cursor = top

    def y(inches: float) -> float:
        return 1 - inches / height

    for title, x in _COLUMNS:
        fig.text(x, y(cursor), title, fontsize=8, weight="bold", va="top")
    cursor += _ROW_LINE_IN * 1.4
    fig.add_artist(Line2D([0.04, 0.96], [y(cursor - 0.05)] * 2, color="#444", linewidth=0.6))
    for index, item in enumerate(items):
        left, notes = _item_lines(item, cjk)
        rows = max(len(left), len(notes))
        if index % 2:
            fig.add_artist(
                Rectangle(
                    (0.035, y(cursor + rows * _ROW_LINE_IN + 0.03)),
                    0.93,
                    (rows * _ROW_LINE_IN + 0.03) / height,
                    facecolor="#f3f4f6",
                    edgecolor="none",
                    zorder=-1,
                )
            )
        fig.text(0.04, y(cursor), left[0], fontsize=7.5, va="top")
        for i, line in enumerate(left[1:], start=1):
            fig.text(0.04, y(cursor + i * _ROW_LINE_IN), line, fontsize=6, va="top", color="#666")
        fig.text(0.34, y(cursor), format_value(item.measured, item.unit), fontsize=7.5, va="top")
        fig.text(0.44, y(cursor), limit_text(item), fontsize=7.5, va="top")
        fig.text(0.54, y(cursor), item.unit, fontsize=7.5, va="top")
        fig.text(
            0.60,
            y(cursor),
            _text(cjk, _OUTCOME_TEXT[item.outcome], _OUTCOME_ZH[item.outcome]),
            fontsize=7.5,
            va="top",
            weight="bold",
            color=_OUTCOME_COLOUR[item.outcome],
        )
        for i, line in enumerate(notes):
            fig.text(0.72, y(cursor + i * _ROW_LINE_IN), line, fontsize=6.5, va="top", color="#333")
        cursor += rows * _ROW_LINE_IN + 0.06
    return cursor - top


def _table_height(items: Sequence[VerdictItem], cjk: bool) -> float:
    total = _ROW_LINE_IN * 1.4
    for item in items:
        left, notes = _item_lines(item, cjk)
        total += max(len(left), len(notes)) * _ROW_LINE_IN + 0.06
    return total


def _curve_usable(curve: BrakeCurve | None) -> bool:
    return curve is not None and curve.sample_rate_hz > 0 and len(curve.left_n) == len(curve.right_n) > 0


def _plot_test(ax: Axes, axle: AxleBrake, test: BrakeTest, title: str) -> None:
    ax.set_title(title, fontsize=8.5, loc="left")
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.3, alpha=0.6)
    curve = test.curve
    if not _curve_usable(curve):
        ax.text(
            0.5, 0.5, "no usable force curve in the record", ha="center", va="center", transform=ax.transAxes
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return
    assert curve is not None
    t = [i / curve.sample_rate_hz for i in range(len(curve.left_n))]
    ax.plot(t, [f / 1000 for f in curve.left_n], color="#0969da", linewidth=1.2, label="left")
    ax.plot(t, [f / 1000 for f in curve.right_n], color="#d1242f", linewidth=1.2, label="right")
    if test.left_max_n is not None and test.right_max_n is not None:
        start = max(test.left_drag_n or 0.0, test.right_drag_n or 0.0)
        span = force_build_up(curve, test.left_max_n, test.right_max_n, start)
        ax.axvspan(t[span.start], t[span.stop - 1], color="#999", alpha=0.15, label="force build-up")
    ax.set_xlabel("time (s)", fontsize=7.5)
    ax.set_ylabel("brake force (kN)", fontsize=7.5)
    ax.legend(fontsize=7, loc="upper left")


def _loads_text(axle: AxleBrake) -> str:
    def kg(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    return f"load L {kg(axle.left_load_kg)} / R {kg(axle.right_load_kg)} kg"


def _draw_curves(fig: Figure, top: float, axles: Sequence[AxleBrake]) -> None:
    height = fig.get_figheight()
    fig.text(0.04, 1 - top / height, "Brake force curves", fontsize=11, weight="bold", va="top")
    for row, axle in enumerate(axles):
        tests = [(axle.service, "service")] + (
            [(axle.parking, "parking")] if axle.parking is not None else []
        )
        row_top = top + 0.35 + row * _CURVE_ROW_IN
        for col, (test, kind) in enumerate(tests):
            left = 0.08 + col * 0.47
            width = 0.40 if len(tests) == 2 else 0.87
            bottom = 1 - (row_top + _CURVE_ROW_IN - 0.45) / height
            ax = fig.add_axes((left, bottom, width, (_CURVE_ROW_IN - 0.8) / height))
            _plot_test(ax, axle, test, f"Axle {axle.axle} {kind} brake — {_loads_text(axle)}")


def draw_report(
    record: InspectionRecord, *, hub_verdict: Verdict | None = None, chinese: bool | None = None
) -> Figure:
    """The report as one matplotlib figure (the caller closes it with ``plt.close``).

    ``chinese``: the Chinese terms beside the English ones; by default when a CJK font is installed.
    """
    chosen = _choose(record, hub_verdict)
    font = cjk_font()
    cjk = font is not None if chinese is None else chinese
    if cjk and font is None:
        raise ReportError(f"no font with Chinese glyphs is installed (looked for {', '.join(CJK_FAMILIES)})")
    items = chosen.verdict.items
    table_top = _HEADER_IN
    curves_top = table_top + _table_height(items, cjk) + 0.3
    total_height = curves_top + 0.45 + len(record.axles) * _CURVE_ROW_IN + 0.3
    families = [font, "DejaVu Sans"] if cjk and font else ["DejaVu Sans"]
    with plt.rc_context({"font.family": families}):
        fig = plt.figure(figsize=(_PAGE_WIDTH_IN, total_height))
        _draw_header(fig, 0.0, record, chosen, cjk)
        _draw_items(fig, table_top, items, cjk)
        if not items:
            fig.text(0.04, 1 - (table_top + 0.4) / total_height, "No items in the verdict.", fontsize=8)
        if record.axles:
            _draw_curves(fig, curves_top, record.axles)
        if not cjk:
            fig.text(
                0.04,
                0.1 / total_height,
                ("No CJK font installed: " if font is None else "")
                + f"Chinese text shown as {CJK_MARKER}, plate province in pinyin.",
                fontsize=6,
                color="#666",
            )
    return fig


def render_report(
    record: InspectionRecord, out_dir: Path, *, hub_verdict: Verdict | None = None
) -> tuple[Path, Path]:
    """Write ``<record id>.pdf`` and ``<record id>.png`` into ``out_dir``; return (pdf, png)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReportError(f"cannot create {out_dir}: {error}") from error
    pdf, png = out_dir / f"{record.record_id}.pdf", out_dir / f"{record.record_id}.png"
    fig = draw_report(record, hub_verdict=hub_verdict)
    try:
        fig.savefig(pdf, format="pdf")
        fig.savefig(png, format="png", dpi=110)
    except OSError as error:
        raise ReportError(f"cannot write the report into {out_dir}: {error}") from error
    finally:
        plt.close(fig)
    return pdf, png
