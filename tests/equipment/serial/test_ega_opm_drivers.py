"""GasAnalyser and OpacityMeter against their simulators over real ptys."""

from __future__ import annotations

import asyncio

import pytest

from equipment.ega_codec import GasSample
from equipment.ega_driver import GasAnalyser
from equipment.errors import DeviceTimeout, NakReply, RemoteProtocolError
from equipment.opm_driver import OpacityMeter
from simulators.ega_sim import EgaScenario, EnginePhase, GasAnalyserSimulator, GasLevels
from simulators.opm_sim import OpacityMeterSimulator, OpmScenario
from simulators.serial_device import parse_fault

SCALE = 0.002  # 30 s warm-up = 60 ms, 10 s zeroing = 20 ms


def quiet(**options: float) -> EgaScenario:
    """A noiseless two-speed idle script, so readings equal the scenario exactly."""
    return EgaScenario.two_speed_idle(gas_noise=0, rpm_noise=0, **options)


async def test_warm_up_zero_and_read_give_the_scenario_values(connect) -> None:
    scenario = quiet()
    simulator = GasAnalyserSimulator(scenario, time_scale=SCALE)
    ega = GasAnalyser(connect(simulator), zero_timeout_s=1, zero_poll_s=0.005)
    status = await ega.status()
    assert not status.warmed_up and not status.zeroed
    with pytest.raises(NakReply) as caught:
        await ega.read()
    assert (caught.value.device, caught.value.command, caught.value.code) == ("ega", "READ", 3)
    assert "not warmed up" in caught.value.cause
    while not (await ega.status()).warmed_up:
        await asyncio.sleep(0.01)
    status = await ega.zero()
    assert status.zeroed and status.warmed_up
    sample = await ega.read()
    gas = scenario.phases[0].gas
    assert sample == GasSample(
        gas.hc_ppm, gas.co_pct, gas.co2_pct, gas.o2_pct, gas.no_ppm, gas.lambda_,
        scenario.phases[0].rpm, 88.0,
    )  # fmt: skip


async def test_zeroing_that_never_finishes_is_a_timeout_naming_zero(connect) -> None:
    simulator = GasAnalyserSimulator(quiet(warm_up_s=0, zero_s=10_000), time_scale=SCALE)
    ega = GasAnalyser(connect(simulator), zero_timeout_s=0.1, zero_poll_s=0.01)
    with pytest.raises(DeviceTimeout) as caught:
        await ega.zero()
    assert (caught.value.device, caught.value.command) == ("ega", "ZERO")
    assert "not zeroed within 0.1 s" in caught.value.cause
    # While zeroing the analyser answers READ with NAK 4 busy: retried, then raised.
    with pytest.raises(NakReply) as busy:
        await ega.read()
    assert busy.value.code == 4


async def test_nak_busy_is_retried(connect) -> None:
    simulator = GasAnalyserSimulator(
        quiet(warm_up_s=0), time_scale=SCALE, faults=[parse_fault("nak:4@read/2")]
    )
    ega = GasAnalyser(connect(simulator))
    await ega.read()
    assert simulator.received == ["read"] * 3


async def test_nak_unknown_command_is_raised_at_once(connect) -> None:
    simulator = GasAnalyserSimulator(
        quiet(warm_up_s=0), time_scale=SCALE, faults=[parse_fault("nak:2@status")]
    )
    with pytest.raises(NakReply) as caught:
        await GasAnalyser(connect(simulator), "ega-lane2").status()
    assert (caught.value.device, caught.value.command, caught.value.code) == ("ega-lane2", "STATUS", 2)
    assert simulator.received == ["status"]


async def test_low_flow_and_dilution_reach_the_host(connect) -> None:
    thin = GasLevels(hc_ppm=10, co_pct=0.5, co2_pct=4.0, o2_pct=12, no_ppm=5, lambda_=1.8)
    scenario = EgaScenario(phases=(EnginePhase(60, 800, thin, low_flow=True),), warm_up_s=0, gas_noise=0)
    ega = GasAnalyser(connect(GasAnalyserSimulator(scenario, time_scale=SCALE)))
    sample = await ega.read()
    assert sample.low_flow and sample.dilution
    assert (await ega.status()).low_flow


async def test_wrong_bench_on_the_port_is_refused_not_misread(connect) -> None:
    # An OPM on the port configured for an EGA answers READ (0x03) with NAK 2, and 0x21 is unknown
    # to the EGA: a wrong bench is reported as the device's refusal, never as a reading.
    simulator = OpacityMeterSimulator(OpmScenario(warm_up_s=0), time_scale=SCALE)
    with pytest.raises(NakReply) as caught:
        await GasAnalyser(connect(simulator)).read()
    assert caught.value.code == 2


async def test_free_acceleration_peaks_equal_the_scenario(connect) -> None:
    scenario = OpmScenario(peaks=(1.1, 0.95, 0.7, 0.66, 0.72), warm_up_s=0)
    simulator = OpacityMeterSimulator(scenario, time_scale=SCALE)
    opm = OpacityMeter(connect(simulator), zero_timeout_s=1, zero_poll_s=0.005)
    assert (await opm.zero()).zeroed
    idle = await opm.read()
    assert idle.k_per_m == pytest.approx(scenario.idle_k, abs=0.01) and idle.rpm < 800
    peaks = []
    for _ in scenario.peaks:
        await opm.peak_reset()
        # reaction 0.5 s + rise 1 s + some of the fall: 2.5 simulated seconds = 5 ms.
        await asyncio.sleep(2.5 * SCALE + 0.005)
        peaks.append(await opm.peak())
    assert peaks == list(scenario.peaks)
    # Beyond the scenario the engine idles: the peak is the idle smoke.
    await opm.peak_reset()
    await asyncio.sleep(0.02)
    assert await opm.peak() == pytest.approx(scenario.idle_k)


async def test_opm_checksum_error_every_time_names_peak_reset(connect) -> None:
    simulator = OpacityMeterSimulator(
        OpmScenario(warm_up_s=0), time_scale=SCALE, faults=[parse_fault("bad-checksum@peak_reset")]
    )
    with pytest.raises(RemoteProtocolError) as caught:
        await OpacityMeter(connect(simulator)).peak_reset()
    assert (caught.value.device, caught.value.command) == ("opm", "PEAK_RESET")
