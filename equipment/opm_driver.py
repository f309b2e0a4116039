"""Smoke opacity meter driver over a ``SerialLink`` speaking ``opm_codec`` (spec section 4).

Request handling, NAK retries and zeroing are the gas analyser's (``ega_driver.BinaryBench``), and so
is the table of which commands may be re-sent after a corrupt reply (PEAK_RESET may not).
"""

from __future__ import annotations

from enum import IntEnum

from equipment.binary_frame_codec import Ack, Frame
from equipment.ega_driver import BinaryBench
from equipment.opm_codec import OpacitySample, OpmCommand, Peak
from equipment.opm_codec import decode_reply as decode_opm_reply
from equipment.serial_link import SerialLink


class OpacityMeter(BinaryBench):
    STATUS = OpmCommand.STATUS
    ZERO = OpmCommand.ZERO

    def __init__(
        self, link: SerialLink, device: str = "opm", *, zero_timeout_s: float = 15.0, zero_poll_s: float = 0.5
    ) -> None:
        super().__init__(link, device, zero_timeout_s=zero_timeout_s, zero_poll_s=zero_poll_s)

    def _decode(self, frame: Frame, command: IntEnum) -> object:
        return decode_opm_reply(frame, OpmCommand(command))

    async def read(self) -> OpacitySample:
        return await self._call(OpmCommand.READ, OpacitySample)

    async def peak(self) -> float:
        """Highest K (m^-1) since the last ``peak_reset``."""
        return (await self._call(OpmCommand.PEAK, Peak)).k_per_m

    async def peak_reset(self) -> None:
        """One per acceleration (spec 4); a corrupt ACK raises ``UnconfirmedCommand`` (see ega_driver)."""
        await self._call(OpmCommand.PEAK_RESET, Ack, changes_state=True)
