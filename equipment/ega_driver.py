"""Exhaust gas analyser driver over a ``SerialLink`` speaking ``ega_codec`` (spec section 3).

``BinaryBench`` holds what the EGA and the opacity meter share: the request/NAK handling and
zeroing. NAK 4 (busy) and NAK 1 (the bench saw our frame corrupted) are transient and re-sent under
the link's busy policy; NAK 2 and NAK 3 (not warmed up) are raised at once as ``NakReply``.

What is re-sent, command by command (EGA spec 3, OPM spec 4). A NAK 1 or NAK 4 is always re-sent:
the bench says it did not act. The question is a reply that came back corrupt (the bench got a
valid request and answered, so it may have acted) or not at all:

| command          | changes the bench? | corrupt reply                               | no reply             |
|------------------|--------------------|---------------------------------------------|----------------------|
| STATUS, READ     | no                 | re-sent (``checksum_retries``)              | ``DeviceTimeout``    |
| PEAK (OPM)       | no                 | re-sent                                     | ``DeviceTimeout``    |
| ZERO             | starts a zeroing   | not re-sent: STATUS is polled as after an   | ``DeviceTimeout``    |
|                  | (up to 10 s)       | ACK; zeroed in time confirms it, otherwise  |                      |
|                  |                    | ``DeviceTimeout`` naming ZERO               |                      |
| PEAK_RESET (OPM) | ends one           | not re-sent: ``UnconfirmedCommand``; no     | ``DeviceTimeout``    |
|                  | acceleration's     | reading can tell whether it acted, and a    |                      |
|                  | window, opens the  | second reset would shift every K by one     |                      |
|                  | next               | acceleration; the free-acceleration         |                      |
|                  |                    | procedure does not count that acceleration  |                      |

A late reply never reaches the next request: the link drops whatever arrived before it writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from enum import IntEnum
from typing import TypeVar

from equipment.binary_frame_codec import (
    Ack,
    ChecksumError,
    Frame,
    FrameDecoder,
    MessageError,
    Nak,
    NakCode,
    encode_frame,
)
from equipment.ega_codec import EgaCommand, GasSample, StatusFlags
from equipment.ega_codec import decode_reply as decode_ega_reply
from equipment.errors import DeviceTimeout, NakReply, RemoteProtocolError, UnconfirmedCommand
from equipment.serial_link import SerialLink, retrying_busy

R = TypeVar("R")
log = logging.getLogger(__name__)

_TRANSIENT = frozenset({NakCode.BUSY, NakCode.BAD_CHECKSUM})


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, NakReply) and error.code in _TRANSIENT


class BinaryBench:
    """Common part of the EGA and OPM drivers. Subclasses say how to decode replies."""

    STATUS: IntEnum
    ZERO: IntEnum

    def __init__(
        self, link: SerialLink, device: str, *, zero_timeout_s: float = 15.0, zero_poll_s: float = 0.5
    ) -> None:
        # Zeroing takes up to 10 s (spec); the deadline allows some slack beyond that.
        self.link = link
        self.device = device
        self.zero_timeout_s = zero_timeout_s
        self.zero_poll_s = zero_poll_s

    def _decode(self, frame: Frame, command: IntEnum) -> object:
        raise NotImplementedError

    async def _call(self, command: IntEnum, expected: type[R], *, changes_state: bool = False) -> R:
        """One request; ``changes_state`` commands are not re-sent after a corrupt reply (table above)."""
        name = command.name
        async for attempt in retrying_busy(self.link.config, _is_transient):
            with attempt:
                frame = await self.link.request(
                    encode_frame(command),
                    FrameDecoder(),
                    device=self.device,
                    command=name,
                    corrupt=(ChecksumError,),
                    resend_corrupt=not changes_state,
                )
                try:
                    reply = self._decode(frame, command)
                except MessageError as error:
                    raise RemoteProtocolError(self.device, name, str(error)) from error
                if isinstance(reply, Nak):
                    raise NakReply(self.device, name, f"NAK {reply.code}: {reply.text}", reply.code)
                if not isinstance(reply, expected):
                    raise RemoteProtocolError(self.device, name, f"unexpected reply {reply!r}")
                return reply
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def status(self) -> StatusFlags:
        return await self._call(self.STATUS, StatusFlags)

    async def zero(self) -> StatusFlags:
        """Start zeroing, then poll STATUS until it shows zeroed; DeviceTimeout past the deadline."""
        try:
            await self._call(self.ZERO, Ack, changes_state=True)
        except UnconfirmedCommand as error:
            # STATUS tells whether ZERO acted: the poll below confirms it or times out naming ZERO.
            log.warning("%s; waiting for STATUS to show zeroed", error)
        deadline = time.monotonic() + self.zero_timeout_s
        while True:
            status = await self.status()
            if status.zeroed:
                return status
            if time.monotonic() >= deadline:
                raise DeviceTimeout(
                    self.device, self.ZERO.name, f"STATUS not zeroed within {self.zero_timeout_s:g} s"
                )
            await asyncio.sleep(self.zero_poll_s)


class GasAnalyser(BinaryBench):
    STATUS = EgaCommand.STATUS
    ZERO = EgaCommand.ZERO

    def __init__(
        self, link: SerialLink, device: str = "ega", *, zero_timeout_s: float = 15.0, zero_poll_s: float = 0.5
    ) -> None:
        super().__init__(link, device, zero_timeout_s=zero_timeout_s, zero_poll_s=zero_poll_s)

    def _decode(self, frame: Frame, command: IntEnum) -> object:
        return decode_ega_reply(frame, EgaCommand(command))

    async def read(self) -> GasSample:
        return await self._call(EgaCommand.READ, GasSample)
