"""An ELM327 command interpreter in front of a simulated engine ECU, sans I/O (spec section 6).

``Elm327.handle(line)`` takes one request line as the host sent it (without its CR) and returns the
bytes the adapter writes back, prompt included, as the ELM327 data sheet describes them:

* AT commands (case and spaces do not matter): ``ATZ`` / ``ATWS`` reset and print the identity,
  ``ATI``, ``ATE0/1`` echo, ``ATL0/1`` linefeeds, ``ATH0/1`` headers, ``ATS0/1`` spaces,
  ``ATSPx`` / ``ATTPx`` protocol (``0`` = automatic, searched on the first request), ``ATDP`` /
  ``ATDPN`` the protocol in use (``A6`` when found automatically), ``ATRV`` the battery voltage, and
  the settings a host sends without needing them (``ATAT``, ``ATST``, ``ATSH``, ``ATCAF``, ``ATD``,
  ...) answer ``OK``; anything else answers ``?``.
* OBD requests: hexadecimal service + PID, optionally followed by one digit (how many response
  frames the host expects: the answer is the same, only sooner on a real adapter). An empty line
  repeats the previous request. The ECU's answer is framed as ISO 15765-4 (CAN, 11-bit ids,
  ECU 7E8): single frames ``7E8 06 41 00 ...`` (the PCI byte shown with headers on, as the ELM
  does), multi-frame answers as first frame + consecutive frames (``10 14 ...``, ``21 ...``). With
  headers off, a single frame shows the data bytes only and a multi-frame answer the ELM's
  ``014`` / ``0: ...`` / ``1: ...`` layout.
* A vehicle that does not communicate: ``SEARCHING...`` then ``UNABLE TO CONNECT`` in automatic
  mode, ``CAN ERROR`` on a fixed CAN protocol; a request the ECU does not support: ``NO DATA``.

Only CAN 11-bit framing is produced (protocols 6 and 8); asked for another protocol, the adapter
finds no vehicle - as a real one does on a car that does not speak it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

IDENTITY = "ELM327 v1.5"
PROMPT = b">"
ECU_RESPONSE_ID = 0x7E8  # the engine ECU's physical response id (request id 7E0 + 8)
CAN_PROTOCOLS = {"6": "ISO 15765-4 (CAN 11/500)", "8": "ISO 15765-4 (CAN 11/250)"}
_PROTOCOL_IDS = frozenset("0123456789ABC")
_HEX_REQUEST = re.compile(r"(?P<body>(?:[0-9A-F]{2})+)(?P<frames>[0-9A-F])?")


class Elm327RequestError(ValueError):
    """A request line that is not an AT command nor a hexadecimal OBD request."""


@dataclass(frozen=True, slots=True)
class ObdRequest:
    service: int
    data: bytes  # PID (and further bytes) after the service byte
    expected_frames: int | None  # the optional trailing digit


def parse_obd_request(line: str) -> ObdRequest:
    """``"0101"``, ``"01 01"``, ``"01011"`` (expect one frame), ``"03"``. Spaces are ignored."""
    text = line.replace(" ", "").upper()
    match = _HEX_REQUEST.fullmatch(text)
    if match is None:
        raise Elm327RequestError(f"not a hexadecimal OBD request: {line!r}")
    body = bytes.fromhex(match["body"])
    frames = match["frames"]
    return ObdRequest(body[0], body[1:], None if frames is None else int(frames, 16))


def can_frames(payload: bytes) -> list[bytes]:
    """ISO 15765-2 frames (8 data bytes each, unpadded last) carrying ``payload`` (1-4095 bytes)."""
    if not 1 <= len(payload) <= 0xFFF:
        raise ValueError(f"an ISO-TP payload is 1-4095 bytes, not {len(payload)}")
    if len(payload) <= 7:
        return [bytes([len(payload)]) + payload]
    frames = [bytes([0x10 | (len(payload) >> 8), len(payload) & 0xFF]) + payload[:6]]
    rest = payload[6:]
    for index in range(0, len(rest), 7):
        sequence = (index // 7 + 1) & 0x0F
        frames.append(bytes([0x20 | sequence]) + rest[index : index + 7])
    return frames


def format_can_answer(
    payload: bytes, *, headers: bool, spaces: bool, ecu_id: int = ECU_RESPONSE_ID
) -> list[str]:
    """The lines an ELM327 prints for one ECU's ISO-TP ``payload`` (CAN, 11-bit ids)."""
    separator = " " if spaces else ""

    def hex_bytes(data: bytes) -> str:
        return separator.join(f"{b:02X}" for b in data)

    frames = can_frames(payload)
    if headers:
        return [f"{ecu_id:03X}{separator}{hex_bytes(frame)}" for frame in frames]
    if len(frames) == 1:
        return [hex_bytes(payload)]
    # Headers off, CAN formatting on: the ELM prints the length, then each frame's data numbered.
    lines = [f"{len(payload):03X}"]
    lines.append(f"0:{separator}{hex_bytes(frames[0][2:])}")
    for number, frame in enumerate(frames[1:], start=1):
        lines.append(f"{number & 0x0F:X}:{separator}{hex_bytes(frame[1:])}")
    return lines


# The ECU: given service and PID bytes, the response payload (service + 0x40 ...) or None (NO DATA).
Ecu = Callable[[int, bytes], bytes | None]


class Elm327:
    """One adapter's settings and the ECU behind it. Not thread-safe: one serving thread uses it."""

    def __init__(self, ecu: Ecu, *, vehicle_protocol: str | None = "6", voltage: float = 12.6) -> None:
        # ``vehicle_protocol`` None: no ECU answers on any protocol (ignition off, no OBD).
        self.ecu = ecu
        self.vehicle_protocol = vehicle_protocol
        self.voltage = voltage
        self.reset()

    def reset(self) -> None:
        self.echo = True
        self.linefeeds = False
        self.headers = False
        self.spaces = True
        self.protocol = "0"  # ATSP0: automatic
        self.found_protocol: str | None = None
        self.last_request = ""

    # --- the one entry point --------------------------------------------------------------------

    def handle(self, raw: str) -> bytes:
        line = raw.strip()
        if not line:
            line = self.last_request  # a bare CR repeats the previous request
        echo = raw if self.echo else None
        lines = self._answer(line)
        end = "\r\n" if self.linefeeds else "\r"
        out = ""
        if echo is not None:
            out += echo + end
        out += "".join(text + end for text in lines)
        return (out + end).encode("ascii", "replace") + PROMPT

    def _answer(self, line: str) -> list[str]:
        compact = line.replace(" ", "").upper()
        if compact.startswith("AT"):
            return self._at(compact[2:])
        try:
            request = parse_obd_request(line)
        except Elm327RequestError:
            return ["?"]
        self.last_request = line
        return self._obd(request)

    # --- AT commands ----------------------------------------------------------------------------

    def _at(self, command: str) -> list[str]:
        switches = {"E": "echo", "L": "linefeeds", "H": "headers", "S": "spaces"}
        if command in ("Z", "WS"):
            self.reset()
            return ["", IDENTITY]
        if command == "I":
            return [IDENTITY]
        if command == "RV":
            return [f"{self.voltage:.1f}V"]
        if len(command) == 2 and command[0] in switches and command[1] in "01":
            setattr(self, switches[command[0]], command[1] == "1")
            return ["OK"]
        if len(command) == 3 and command[:2] in ("SP", "TP") and command[2] in _PROTOCOL_IDS:
            self.protocol = command[2]
            self.found_protocol = None
            return ["OK"]
        if command == "DPN":
            if self.protocol == "0":
                return [f"A{self.found_protocol}" if self.found_protocol else "0"]
            return [self.protocol]
        if command == "DP":
            name = CAN_PROTOCOLS.get(self.found_protocol or self.protocol, "AUTO")
            return [f"AUTO, {name}" if self.protocol == "0" else name]
        if command.startswith(("AT", "ST", "SH", "CAF", "D", "M0", "M1")):
            return ["OK"]
        return ["?"]

    # --- OBD requests ---------------------------------------------------------------------------

    def _obd(self, request: ObdRequest) -> list[str]:
        searching: list[str] = []
        if self.found_protocol is None:
            wanted = self.vehicle_protocol
            if self.protocol == "0":
                searching = ["SEARCHING..."]
                if wanted is None or wanted not in CAN_PROTOCOLS:
                    return [*searching, "UNABLE TO CONNECT"]
            elif self.protocol != wanted:
                return ["CAN ERROR" if self.protocol in CAN_PROTOCOLS else "UNABLE TO CONNECT"]
            self.found_protocol = wanted
        payload = self.ecu(request.service, request.data)
        if payload is None:
            return [*searching, "NO DATA"]
        return [*searching, *format_can_answer(payload, headers=self.headers, spaces=self.spaces)]
