"""The owner's report: a real PDF and PNG drawn from a judged record, readable without CJK fonts."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from inspection import (
    AxleBrake,
    Beam,
    BrakeCurve,
    BrakeKind,
    Fuel,
    GasReading,
    InspectionRecord,
    LampMeasurement,
    Outcome,
    Side,
    TwoSpeedIdleRun,
    Vehicle,
    VehicleClass,
    VehicleUse,
    Verdict,
    VisualCheck,
)
from inspection.measurements import BrakeTest
from inspection.verdicts import judge
from station_agent import inspection_report
from station_agent.inspection_report import draw_report, item_label, latin_only, plate_text, render_report

STARTED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


def brake_curve(left_max: int, right_max: int, *, lag: int = 0, rate: int = 100) -> BrakeCurve:
    """2 s of drag, a 1.5 s build-up (right lagging ``lag`` samples), 1 s held, then release."""

    def side(peak: int, delay: int) -> tuple[int, ...]:
        drag = [30] * (200 + delay)
        ramp = [30 + round((peak - 30) * (i / 150) ** 1.4) for i in range(1, 151)]
        hold = [peak - (i % 7) * 3 for i in range(100 - delay)]
        release = [round(peak * (1 - i / 40)) for i in range(1, 41)]
        return tuple(drag + ramp + hold + release)

    return BrakeCurve(rate, side(left_max, 0), side(right_max, lag))


def service(left: int, right: int, *, lag: int = 0, slip: bool = False) -> BrakeTest:
    return BrakeTest(
        BrakeKind.SERVICE,
        float(left),
        float(right),
        30.0,
        30.0,
        False,
        slip,
        brake_curve(left, right, lag=lag),
    )


def parking(left: int, right: int) -> BrakeTest:
    return BrakeTest(
        BrakeKind.PARKING, float(left), float(right), 0.0, 0.0, False, False, brake_curve(left, right)
    )


def gas(co: float, hc: float, lam: float) -> tuple[GasReading, ...]:
    return tuple(GasReading(float(t), hc, co, 14.6, 0.4, 60.0, lam, 2500.0, 92.0) for t in range(1, 31))


@pytest.fixture
def record() -> InspectionRecord:
    vehicle = Vehicle(
        vin="LFV2A21K0NA000001",
        plate="渝A12345",
        registration_province="50",
        vehicle_class=VehicleClass.M1,
        fuel=Fuel.PETROL,
        seats=5,
        use=VehicleUse.NON_OPERATING,
        registration_date=date(2019, 8, 20),
        curb_mass_kg=1350,
        max_total_mass_kg=1800,
        axle_count=2,
    )
    lamps = (
        LampMeasurement(Side.LEFT, Beam.HIGH, 21800, 640, 40, 700),
        LampMeasurement(Side.LEFT, Beam.LOW, 0, 560, -60, 700),
        LampMeasurement(Side.RIGHT, Beam.HIGH, 14200, 650, 20, 700),  # too dim: FAIL
        LampMeasurement(Side.RIGHT, Beam.LOW, 0, 548, 30, 700),
    )
    record = InspectionRecord(
        record_id=uuid.UUID("5b1f7c1e-7a1d-4d4c-9a57-6c3d1f2e9b10"),
        station_id="50-0001",
        lane=2,
        vehicle=vehicle,
        started_at=STARTED,
        finished_at=STARTED + timedelta(minutes=9),
        axles=(
            AxleBrake(1, 452.0, 446.0, service(3350, 3080, lag=12)),
            AxleBrake(2, 318.0, 322.0, service(1610, 1590, lag=4), parking(1020, 960)),
        ),
        lamps=lamps,
        emission=TwoSpeedIdleRun("a", gas(0.12, 28.0, 1.01), gas(0.31, 52.0, 1.02)),
        visual_checks=(VisualCheck("chassis.1", True, "左前减震器渗油，建议维修", "insp-07"),),
    )
    return replace(record, station_verdict=judge(record))


def test_report_writes_a_pdf_and_a_png(record: InspectionRecord, tmp_path: Path) -> None:
    pdf, png = render_report(record, tmp_path / "out")
    assert pdf == tmp_path / "out" / f"{record.record_id}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert png.stat().st_size > 50_000  # a table and two axles of curves, not an empty canvas


@pytest.fixture(params=[False, True], ids=["latin", "chinese"])
def chinese(request: pytest.FixtureRequest) -> bool:
    if request.param and inspection_report.cjk_font() is None:
        pytest.skip("no font with Chinese glyphs installed (.ci/run installs fonts-wqy-microhei)")
    return bool(request.param)


def shown(chinese: bool, english: str, zh: str) -> str:
    """What the report draws for a term: the Chinese beside it only where it can draw Chinese."""
    return f"{english} {zh}" if chinese else english


def figure_texts(record: InspectionRecord, chinese: bool, hub_verdict: Verdict | None = None) -> list[str]:
    fig = draw_report(record, hub_verdict=hub_verdict, chinese=chinese)
    try:
        texts = [t.get_text() for t in fig.texts]
        for ax in fig.axes:
            texts += [ax.get_title(loc="left"), *(t.get_text() for t in ax.texts)]
        return texts
    finally:
        plt.close(fig)


def test_the_report_shows_every_item_with_its_result_and_the_overall(
    record: InspectionRecord, chinese: bool
) -> None:
    texts = figure_texts(record, chinese)
    assert record.station_verdict is not None
    verdict = record.station_verdict
    assert verdict.overall is Outcome.FAIL
    for item in verdict.items:
        assert shown(chinese, *item_label(item.code)) in texts, item.code
    assert shown(chinese, "Right high beam intensity", "远光发光强度") in texts
    assert "≥ 15000" in texts and "14200" in texts and "≥ 490" in texts
    assert shown(chinese, "Axle 1 braking rate", "轴制动率") in texts and "≥ 60.0" in texts
    assert (
        texts.count(shown(chinese, "FAIL", "不合格")) >= 2
    )  # the overall box, the dim lamp, the parking brake
    assert "Result from: station verdict (signed)" in texts
    assert any(t.startswith("Axle 2 parking brake") for t in texts)
    plate = "渝A12345" if chinese else "Yu·A12345"
    assert f"Plate: {plate}      VIN: LFV2A21K0NA000001" in texts
    assert any(inspection_report._CJK.search(t) for t in texts) is chinese
    assert any("Chinese text shown as [zh]" in t for t in texts) is not chinese


def test_hub_verdict_is_shown_and_a_difference_from_the_station_is_noted(
    record: InspectionRecord, chinese: bool
) -> None:
    hub = Verdict(tuple(replace(i, outcome=Outcome.PASS) for i in judge(record).items))
    texts = figure_texts(record, chinese, hub)
    assert "Result from: hub verdict" in texts
    assert "Station said: FAIL (differs)" in texts
    assert shown(chinese, "PASS", "合格") in texts
    assert not any(t.startswith("FAIL") for t in texts)


def test_a_record_without_a_verdict_or_curves_is_judged_and_still_drawn(
    tmp_path: Path, record: InspectionRecord
) -> None:
    bare_axle = AxleBrake(1, 450.0, 450.0, replace(record.axles[0].service, curve=None))
    bare = replace(record, station_verdict=None, axles=(bare_axle,), lamps=(), emission=None)
    pdf, png = render_report(bare, tmp_path)
    assert pdf.exists() and png.exists()


def test_chinese_text_is_never_drawn_without_a_cjk_font() -> None:
    assert plate_text("渝A12345", cjk=False) == "Yu·A12345"
    assert plate_text("渝A12345", cjk=True) == "渝A12345"
    assert latin_only("左前减震器 leaks") == "[zh] leaks"
    assert item_label("brake.service.axle2.imbalance.max") == ("Axle 2 imbalance", "制动不平衡率")
    assert item_label("lamp.right.low.vertical.min")[0] == "Right low beam height (min)"
    assert item_label("something.new")[0] == "something.new"
    assert item_label("emission.asm5025.no.max") == ("ASM5025 NO (10 s average, corrected)", "稳态工况法")
    assert item_label("emission.lug_down.k90.max")[0] == "Lug-down K at 90 % VelMaxHP"
    assert item_label("emission.lug_down.wheel_power.min")[1] == "加载减速"


def test_report_into_an_unwritable_place_names_it(record: InspectionRecord, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(inspection_report.ReportError, match="file"):
        render_report(record, blocker / "out")
