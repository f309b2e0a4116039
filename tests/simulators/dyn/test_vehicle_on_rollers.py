"""The physics of a vehicle on the rollers, and the exhaust the EGA / OPM simulators read from it."""

from __future__ import annotations

import sys
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.ega_sim import GasAnalyserSimulator
from simulators.opm_sim import OpacityMeterSimulator
from simulators.vehicle_on_rollers import Dynamometer, LoadMode, Pedal, RollerModel, VehicleModel


def _rolling(vehicle: VehicleModel | None = None, kmh: float = 25.0) -> RollerModel:
    model = RollerModel(vehicle=vehicle or VehicleModel.petrol_car())
    model.rollers_locked = False
    model.aid_speed_kmh, model.aid_pedal = kmh, Pedal.HOLD_SPEED
    model.advance(15)
    return model


@given(st.floats(min_value=0, max_value=8000))
def test_full_load_power_never_exceeds_rated_and_peaks_at_rated_speed(rpm: float) -> None:
    for vehicle in (VehicleModel.petrol_car(), VehicleModel.diesel_truck()):
        assert 0 <= vehicle.full_load_kw(rpm) <= vehicle.rated_power_kw + 1e-9
        assert vehicle.full_load_kw(vehicle.rated_rpm) == pytest.approx(vehicle.rated_power_kw)


def test_the_rollers_cannot_turn_with_the_lift_up() -> None:
    model = RollerModel()
    model.aid_pedal = Pedal.FULL_THROTTLE
    model.advance(5)
    assert model.speed_kmh == 0.0


def test_the_driver_reacts_with_a_lag_and_then_holds_the_aid_speed() -> None:
    model = RollerModel()
    model.rollers_locked = False
    model.aid_speed_kmh, model.aid_pedal = 25.0, Pedal.HOLD_SPEED
    model.advance(0.1)
    assert model.throttle < 0.5  # a person's foot, not a switch
    model.advance(15)
    assert model.speed_kmh == pytest.approx(25.0, abs=0.5)


def test_constant_power_absorbs_the_setpoint_and_the_engine_works_harder() -> None:
    model = _rolling()
    free_throttle = model.throttle
    model.setpoint_power_kw = 9.5
    model.set_mode(LoadMode.CONSTANT_POWER)
    model.advance(20)
    assert model.absorbed_power_kw() == pytest.approx(9.5, rel=0.02)
    assert model.mode_held()
    assert model.speed_kmh == pytest.approx(25.0, abs=1.0)
    assert model.throttle > free_throttle + 0.1
    # Roller power = absorbed + the machine's own loss at this speed.
    assert model.roller_power_kw() == pytest.approx(
        9.5 + model.machine.parasitic_kw(model.speed_kmh), rel=0.02
    )


def test_constant_speed_on_full_throttle_balances_engine_power() -> None:
    vehicle = VehicleModel.diesel_truck()
    model = _rolling(vehicle, 50.0)
    model.aid_pedal = Pedal.FULL_THROTTLE
    model.setpoint_speed_kmh = 50.0
    model.set_mode(LoadMode.CONSTANT_SPEED)
    model.advance(20)
    assert model.speed_kmh == pytest.approx(50.0, abs=0.2)
    # Steady: what the engine gives = absorber + parasitic + tyres (energy balance at the wheel).
    engine_kw = vehicle.full_load_kw(model.rpm) * model.throttle
    losses_kw = model.roller_power_kw() + vehicle.tyre_loss_n * model.speed_ms / 1000
    assert engine_kw == pytest.approx(losses_kw, rel=0.02)


def test_parasitic_losses_slow_a_coasting_vehicle() -> None:
    lossy = _rolling()
    lossless = RollerModel(machine=Dynamometer(parasitic_25_kw=0.0, parasitic_40_kw=0.0))
    lossless.rollers_locked = False
    lossless.speed_ms, lossy.speed_ms = 10.0, 10.0
    for model in (lossy, lossless):
        model.aid_pedal, model.aid_speed_kmh, model.throttle = Pedal.NONE, 0.0, 0.0
        model.advance(3)
    assert lossy.speed_ms < lossless.speed_ms < 10.0


def test_exhaust_follows_the_load_in_the_gas_analyser_and_opacity_meter() -> None:
    petrol = _rolling()
    analyser = GasAnalyserSimulator(engine=petrol)
    light_no = analyser.sample_at(100.0).no_ppm
    petrol.setpoint_power_kw = 15.0
    petrol.set_mode(LoadMode.CONSTANT_POWER)
    petrol.advance(20)
    assert analyser.sample_at(100.0).no_ppm > light_no * 1.5
    assert analyser.sample_at(100.0).rpm == pytest.approx(petrol.rpm, abs=25)

    diesel = _rolling(VehicleModel.diesel_truck(), 40.0)
    meter = OpacityMeterSimulator(engine=diesel)
    light_k = meter.sample_at(100.0).k_per_m
    diesel.aid_pedal = Pedal.FULL_THROTTLE
    diesel.setpoint_speed_kmh = 40.0
    diesel.set_mode(LoadMode.CONSTANT_SPEED)
    diesel.advance(10)
    assert meter.sample_at(100.0).k_per_m > light_k + 0.2


def test_without_the_rollers_turning_the_scripts_still_run() -> None:
    model = RollerModel()  # lift up
    analyser = GasAnalyserSimulator(engine=model)
    assert analyser.sample_at(40.0).rpm == pytest.approx(2500, abs=25)  # the two-speed idle script


@pytest.mark.parametrize("mode", [LoadMode.CONSTANT_POWER, LoadMode.CONSTANT_FORCE, LoadMode.CONSTANT_SPEED])
def test_a_load_mode_takes_effect_within_half_a_second(mode: LoadMode) -> None:
    model = _rolling()
    model.setpoint_power_kw, model.setpoint_force_n, model.setpoint_speed_kmh = (
        8.0,
        1000.0,
        model.speed_kmh - 1,
    )
    model.set_mode(mode)
    waited = 0.0
    while not model.mode_held():
        model.advance(0.01)
        waited += 0.01
        assert waited < 0.5, f"{mode.name} not held after {waited:.2f} s"  # spec 5


def test_simulators_advancing_the_shared_vehicle_from_their_threads_step_it_as_one_would() -> None:
    # The dynamometer, gas analyser and opacity meter simulators each sync() the one vehicle
    # on the rollers from their own thread; interleaved steps advanced it twice over a step.
    sys_interval = sys.getswitchinterval()
    alone, shared = _rolling(kmh=40.0), _rolling(kmh=40.0)
    alone.advance(30)
    target = shared.t + 30
    try:
        sys.setswitchinterval(1e-6)
        threads = [threading.Thread(target=shared.advance_to, args=(target,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(sys_interval)
    assert shared.t == pytest.approx(alone.t, abs=1e-9)
    assert shared.speed_ms == pytest.approx(alone.speed_ms, rel=1e-9)
    assert shared.distance_m == pytest.approx(alone.distance_m, rel=1e-9)
