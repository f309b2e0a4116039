"""Headlight tester driver: async calls over a ``SerialLink`` speaking ``hlt_codec`` (spec section 2).

One request, one reply frame. ``ERR,1`` (the tester saw our frame corrupted) and ``ERR,3`` (busy)
are transient and re-sent under the link's busy policy; any other ``ERR`` is an ``ErrorReply``
with the tester's code and text. ``measure`` first asks STAT: a tester reporting FAULT raises
``DeviceFault`` instead of being asked to measure; ``status()`` itself just returns the state.

Re-sending (spec 2): every HLT command is safe to send twice - ID and STAT only read, and a second
MEAS measures the same lamp again (the tester keeps no state beyond BUSY, which answers ERR 3). So
a reply with a bad checksum is re-sent ``checksum_retries`` times, as for the gas analyser's reads
(the table of commands that are *not* re-sent is in ``equipment.ega_driver``).
"""

from __future__ import annotations

from typing import TypeVar

from equipment.errors import DeviceFault, ErrorReply, RemoteProtocolError
from equipment.hlt_codec import (
    Beam,
    ErrReply,
    HltChecksumError,
    HltDecoder,
    HltErrorCode,
    HltMessageError,
    HltRequest,
    HltState,
    IdReply,
    IdRequest,
    LampReading,
    MeasRequest,
    Side,
    StatReply,
    StatRequest,
    encode,
    parse_reply,
)
from equipment.serial_link import SerialLink, retrying_busy

R = TypeVar("R", IdReply, StatReply, LampReading)

_TRANSIENT = frozenset({HltErrorCode.CHECKSUM, HltErrorCode.BUSY})


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, ErrorReply) and error.code in _TRANSIENT


class HeadlightTester:
    def __init__(self, link: SerialLink, device: str = "hlt", *, measure_timeout_s: float = 10.0) -> None:
        # The spec's measurement takes 2-6 s; the default leaves room for a slow unit.
        self.link = link
        self.device = device
        self.measure_timeout_s = measure_timeout_s

    async def _call(self, request: HltRequest, expected: type[R], timeout_s: float | None = None) -> R:
        command = request.body()
        async for attempt in retrying_busy(self.link.config, _is_transient):
            with attempt:
                body = await self.link.request(
                    encode(request),
                    HltDecoder(),
                    device=self.device,
                    command=command,
                    corrupt=(HltChecksumError,),
                    timeout_s=timeout_s,
                )
                try:
                    reply = parse_reply(body)
                except HltMessageError as error:
                    raise RemoteProtocolError(self.device, command, str(error)) from error
                if isinstance(reply, ErrReply):
                    raise ErrorReply(self.device, command, f"ERR {reply.code}: {reply.text}", reply.code)
                if not isinstance(reply, expected):
                    raise RemoteProtocolError(
                        self.device, command, f"expected a {expected.__name__} reply, got {body!r}"
                    )
                return reply
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def identify(self) -> tuple[str, str]:
        """(serial number, firmware version)."""
        reply = await self._call(IdRequest(), IdReply)
        return reply.serial, reply.firmware

    async def status(self) -> HltState:
        return (await self._call(StatRequest(), StatReply)).state

    async def measure(self, side: Side | str, beam: Beam | str) -> LampReading:
        """Measure one lamp and beam. Waits ``measure_timeout_s`` for the RES."""
        request = MeasRequest(Side(side), Beam(beam))
        state = await self.status()
        if state is HltState.FAULT:
            raise DeviceFault(self.device, request.body(), "tester reports STAT FAULT")
        reading = await self._call(request, LampReading, timeout_s=self.measure_timeout_s)
        if (reading.side, reading.beam) != (request.side, request.beam):
            raise RemoteProtocolError(
                self.device,
                request.body(),
                f"result is for side {reading.side} beam {reading.beam}, not the lamp asked for",
            )
        return reading
