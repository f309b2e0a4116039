"""Every way talking to a bench can fail, as typed exceptions that say device, command and cause.

    EquipmentError                      device, command, cause
    ├── ProfileError                    a device profile file is wrong (file, key, reason)
    ├── TransportError                  the link failed
    │   ├── DeviceUnreachable           could not connect / open the port
    │   ├── DeviceTimeout               no (complete) answer in time
    │   │   ├── AdapterNotAnswering     the OBD adapter shows no prompt (equipment.obd_driver)
    │   │   └── ModeNotReached          DYN: MODE_ACTIVE (load held) not shown in time
    │   └── DeviceDisconnected          the link dropped, possibly mid-frame
    ├── RemoteProtocolError             the device broke its protocol (garbage, bad checksum we received,
    │   │                               a reply that does not match the request)
    │   ├── UnconfirmedCommand          a state-changing command whose reply was corrupt: it may or may
    │   │                               not have acted, and re-sending it could act twice
    │   └── ObdAnswerUnreadable         the vehicle's OBD answer does not decode
    │       └── VinUnreadable           no VIN, or not 17 VIN characters, in the service 09 answer
    ├── VehicleNotCommunicating         the OBD adapter answers, the vehicle's ECU does not (a result
    │                                   the rules judge, not a bench failure)
    ├── DeviceRejected                  the device understood and refused
    │   ├── ModbusExceptionReply        Modbus exception code (6 = busy: retried before raising)
    │   │   ├── ModeRefused             DYN: a load mode refused (exception 3: lift up, rollers stand,
    │   │   │                           or a fault: only RELEASE is taken)
    │   │   └── LiftBusy                DYN: still busy (exception 6) after the re-sends: lift moving
    │   ├── NakReply                    EGA / OPM NAK with its code (1 checksum, 2 unknown, 3 not warm, 4 busy)
    │   └── ErrorReply                  HLT ``ERR,<code>,<text>``
    ├── DeviceFault                     the bench reports a fault (RBT FAULT bit + FAULT_CODE, HLT STAT FAULT)
    │   ├── AbsorberOverheat            DYN FAULT_CODE 1
    │   ├── SpeedSensorFault            DYN FAULT_CODE 2
    │   ├── LiftFault                   DYN FAULT_CODE 3
    │   └── OverspeedFault              DYN FAULT_CODE 4 (above 130 km/h)
    └── CodecError                      the sans-I/O codecs: bytes or a value that cannot be a frame
        │                               or a register value (no device named: the codecs know none)
        ├── FrameError                  EGA / OPM binary frames     (equipment.binary_frame_codec)
        │   ├── MessageError            a well-formed frame with wrong content
        │   └── ChecksumError           a complete frame whose checksum does not add up
        ├── HltCodecError               headlight ASCII frames      (equipment.hlt_codec)
        │   ├── HltChecksumError
        │   └── HltMessageError
        └── RegisterEncodeError         (also ValueError) a value a register layout cannot hold
                                                                    (equipment.register_codec)

The drivers turn a codec error from a device's bytes into ``RemoteProtocolError`` naming the
device; a simulator turns one from the host's bytes into the NAK the spec prescribes.

Like h11's Local/RemoteProtocolError, ``RemoteProtocolError`` means the device is at fault;
a ``ProfileError`` or a ``ValueError`` from our own arguments means we are.
"""

from __future__ import annotations


class EquipmentError(Exception):
    def __init__(self, device: str, command: str, cause: str) -> None:
        super().__init__(f"{device}: {command}: {cause}")
        self.device = device
        self.command = command
        self.cause = cause


class CodecError(EquipmentError):
    """A codec's refusal: ``cause`` is the message; ``device`` and ``command`` are empty."""

    def __init__(self, message: str = "") -> None:
        Exception.__init__(self, message)
        self.device = ""
        self.command = ""
        self.cause = message


class ProfileError(EquipmentError):
    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(device=f"profile {file}", command=key, cause=reason)
        self.file = file
        self.key = key
        self.reason = reason


class TransportError(EquipmentError):
    pass


class DeviceUnreachable(TransportError):
    pass


class DeviceTimeout(TransportError):
    pass


class DeviceDisconnected(TransportError):
    pass


class RemoteProtocolError(EquipmentError):
    pass


class UnconfirmedCommand(RemoteProtocolError):
    pass


class DeviceRejected(EquipmentError):
    def __init__(self, device: str, command: str, cause: str, code: int) -> None:
        super().__init__(device, command, cause)
        self.code = code


class ModbusExceptionReply(DeviceRejected):
    pass


class NakReply(DeviceRejected):
    pass


class ErrorReply(DeviceRejected):
    pass


class DeviceFault(EquipmentError):
    def __init__(self, device: str, command: str, cause: str, code: int | None = None) -> None:
        super().__init__(device, command, cause)
        self.code = code


class AdapterNotAnswering(DeviceTimeout):
    pass


class ObdAnswerUnreadable(RemoteProtocolError):
    pass


class VinUnreadable(ObdAnswerUnreadable):
    pass


class VehicleNotCommunicating(EquipmentError):
    pass


class ModeNotReached(DeviceTimeout):
    pass


class ModeRefused(ModbusExceptionReply):
    pass


class LiftBusy(ModbusExceptionReply):
    pass


class AbsorberOverheat(DeviceFault):
    pass


class SpeedSensorFault(DeviceFault):
    pass


class LiftFault(DeviceFault):
    pass


class OverspeedFault(DeviceFault):
    pass
