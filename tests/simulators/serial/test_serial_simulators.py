"""The serial simulators seen from a raw pyserial port: the spec's behaviour, byte for byte."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import serial

from equipment import ega_codec
from equipment.binary_frame_codec import Frame, FrameDecoder, Nak, encode_frame
from equipment.ega_codec import EgaCommand
from equipment.hlt_codec import (
    ErrReply,
    HltDecoder,
    HltState,
    LampReading,
    StatReply,
    frame_body,
    parse_reply,
)
from simulators.ega_sim import EgaScenario, GasAnalyserSimulator
from simulators.hlt_sim import HeadlightTesterSimulator
from simulators.serial_device import SerialDeviceSimulator, parse_fault


@pytest.fixture
def port_to() -> Iterator:
    opened: list[tuple[SerialDeviceSimulator, serial.Serial]] = []

    def _open(simulator: SerialDeviceSimulator) -> serial.Serial:
        port = serial.Serial(simulator.start(), 9600, timeout=0.5)
        opened.append((simulator, port))
        return port

    yield _open
    for simulator, port in opened:
        port.close()
        simulator.stop()


def hlt_ask(port: serial.Serial, body: str | bytes, raw: bytes | None = None) -> object:
    port.write(raw if raw is not None else frame_body(body))
    decoder = HltDecoder()
    decoder.feed(port.read_until(b"\n"))
    frame = decoder.next_frame()
    assert frame is not None, "no reply frame"
    return parse_reply(frame)


def test_hlt_is_busy_during_a_measurement_and_answers_each_frame_once(port_to) -> None:
    simulator = HeadlightTesterSimulator(time_scale=0.05)  # 0.1-0.3 s measurement
    port = port_to(simulator)
    port.write(frame_body("MEAS,L,H"))
    time.sleep(0.02)
    assert hlt_ask(port, "STAT") == StatReply(HltState.BUSY)
    assert hlt_ask(port, "MEAS,R,H") == ErrReply(3, "busy")
    # The RES answers the first MEAS; after it the tester is READY again and nothing else is pending.
    reading = hlt_ask(port, b"", raw=b"")
    assert isinstance(reading, LampReading) and reading.side.value == "L"
    assert hlt_ask(port, "STAT") == StatReply(HltState.READY)
    port.timeout = 0.1
    assert port.read(1) == b""
    assert simulator.received == ["meas", "stat", "meas", "stat"]


def test_hlt_checksum_and_unknown_command_errors(port_to) -> None:
    port = port_to(HeadlightTesterSimulator(time_scale=0.01))
    port.write(b"$STAT*00\r\n")
    assert port.read_until(b"\n") == frame_body("ERR,1,checksum")  # the spec's exact reply
    assert hlt_ask(port, "SELFDESTRUCT") == ErrReply(2, "unknown command")
    assert hlt_ask(port, "MEAS,L,X") == ErrReply(2, "unknown command")
    # Noise and a half frame from the host do not stop it answering the next frame.
    assert hlt_ask(port, "", raw=b"\x00\xffxx$ME" + frame_body("STAT")) == StatReply(HltState.READY)


def test_hlt_scenario_is_repeatable_for_a_seed() -> None:
    assert HeadlightTesterSimulator(seed=3).scenario == HeadlightTesterSimulator(seed=3).scenario
    assert HeadlightTesterSimulator(seed=3).scenario != HeadlightTesterSimulator(seed=4).scenario


def ega_ask(port: serial.Serial, raw: bytes) -> Frame:
    port.write(raw)
    decoder = FrameDecoder()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        decoder.feed(port.read(1))
        if (frame := decoder.next_frame()) is not None:
            return frame
    raise AssertionError("no reply frame")


def test_ega_naks_bad_checksum_and_unknown_commands(port_to) -> None:
    port = port_to(GasAnalyserSimulator(EgaScenario.two_speed_idle(warm_up_s=0), time_scale=0.01))
    bad = bytearray(encode_frame(EgaCommand.READ))
    bad[-2] ^= 0x01
    assert ega_codec.decode_reply(ega_ask(port, bytes(bad)), EgaCommand.READ) == Nak(1)
    assert ega_ask(port, encode_frame(0x55)) == Frame(0x7F, b"\x02")
    # A request cut short, then the line idles: the simulator drops it and answers the next one.
    port.write(encode_frame(EgaCommand.STATUS)[:2])
    time.sleep(0.1)
    status = ega_codec.decode_reply(ega_ask(port, encode_frame(EgaCommand.STATUS)), EgaCommand.STATUS)
    assert status.warmed_up  # type: ignore[union-attr]


def test_two_speed_idle_procedure_sees_each_phase(port_to) -> None:
    """A host running GB 18285 two-speed idle (here at 1/200 speed) sees 70 %, high and low idle."""
    scale = 0.005
    simulator = GasAnalyserSimulator(
        EgaScenario.two_speed_idle(warm_up_s=0, rated_rpm=5000), time_scale=scale
    )
    port = port_to(simulator)
    record: list[tuple[float, ega_codec.GasSample]] = []
    started = time.monotonic()
    # One reading per simulated second for 130 s (0.65 s of real time).
    for second in range(130):
        while time.monotonic() < started + second * scale:
            time.sleep(scale / 10)
        sample = ega_codec.decode_reply(ega_ask(port, encode_frame(EgaCommand.READ)), EgaCommand.READ)
        assert isinstance(sample, ega_codec.GasSample)
        record.append((simulator.script_time(), sample))

    def readings(start: float, end: float) -> list[ega_codec.GasSample]:
        # Skip a second at each phase boundary: reading time and script time differ by the exchange.
        return [s for t, s in record if start + 1 <= t <= end - 1]

    assert all(abs(s.rpm - 3500) <= 50 for s in readings(0, 30))
    high = readings(30, 85)
    assert len(high) >= 15 and all(2300 <= s.rpm <= 2700 for s in high)
    low = readings(85, 130)
    assert len(low) >= 15 and all(700 <= s.rpm <= 900 for s in low)
    for sample in high + low:
        assert not sample.dilution and not sample.low_flow
        assert sample.co_pct < 0.3 and sample.hc_ppm < 50 and abs(sample.lambda_ - 1) <= 0.05
    # Readings vary a little (noise), deterministically for the seed.
    assert len({s.co2_pct for s in high}) > 1
    assert simulator.sample_at(40.0) == GasAnalyserSimulator(simulator.scenario).sample_at(40.0)


def test_fault_parsing() -> None:
    fault = parse_fault("NAK:4@READ/2")
    assert (fault.kind.value, fault.code, fault.command, fault.count) == ("reject", 4, "read", 2)
    assert parse_fault("silence").command is None
    for bad in ("explode", "reject", "nak:x"):
        with pytest.raises(ValueError):
            parse_fault(bad)
