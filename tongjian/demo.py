"""The end-to-end demo: a province hub, a station with two simulated lanes, inspectors, one PKI.

Everything is real and local: the hub is a gRPC server on SQLite, the benches are simulators on
a loopback Modbus TCP port and on pseudo-terminals (lane 1: default brake profile over TCP and a
chassis dynamometer, so petrol cars take ASM and diesels lug-down; lane 2: the RBT-F profile over
Modbus RTU and no dynamometer, so the no-load fallbacks), the inspectors use the PDA gRPC service, and the station
delivers to the hub over mutual TLS with certificates from a throwaway CA. The demo then reads the
hub's database back and checks that every record arrived once, byte for byte as signed, with a
valid signature, and that the hub's recomputed verdict agrees with the station's.

``StationRig`` (benches + lanes on simulators) is also what the end-to-end tests use.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import grpc

from inspection import Fuel, InspectionRecord, Vehicle, VehicleClass
from protos.envelope import load_public_key, signature_valid
from protos.record_mapping import record_to_bytes, vehicle_to_proto
from protos.tongjian.v1 import inspection_pb2, lane_pb2, lane_pb2_grpc
from simulators.brake_scenario import BrakeScenario, scenario_for_vehicle
from simulators.dyn_sim import DynSimulator
from simulators.ega_sim import EgaScenario, GasAnalyserSimulator
from simulators.fleet import generate_fleet
from simulators.hlt_sim import HeadlightScenario, HeadlightTesterSimulator
from simulators.opm_sim import OpacityMeterSimulator, OpmScenario
from simulators.rbt_server import RbtSimulator
from simulators.vehicle_on_rollers import RollerModel, VehicleModel
from station_agent.lane import LaneState
from station_agent.lane_config import load_lane_config
from station_agent.station import Station, StationSettings, StationTls

log = logging.getLogger(__name__)

STATION_ID = "50-0001"
PROVINCE = "50"
INSPECTOR = "50-0001-07"
# Real seconds per procedure second on the benches: a two-speed idle test takes about 2 s.
TIME_SCALE = 0.01
VISUAL_ITEMS = (
    ("vin-stamp", True, "VIN stamping matches the certificate"),
    ("tyres", True, ""),
    ("seat-belts", True, ""),
    ("signal-lamps", True, ""),
    ("chassis-leaks", True, "no oil or fuel leaks seen from the pit"),
)


@dataclass
class SimulatedLane:
    """One lane's four simulated benches and the lane TOML that points the agent at them."""

    number: int
    profile: str
    rtu: bool
    seed: int
    rbt: RbtSimulator = field(init=False)
    hlt: HeadlightTesterSimulator = field(init=False)
    ega: GasAnalyserSimulator = field(init=False)
    opm: OpacityMeterSimulator = field(init=False)
    config_path: Path | None = None
    brake_scenario: BrakeScenario | None = None
    # With a chassis dynamometer: petrol cars take ASM and diesels lug-down, and the gas analyser and
    # opacity meter read the same vehicle on the rollers (one model drives all three simulators).
    with_dyn: bool = False
    rollers: RollerModel | None = None
    dyn: DynSimulator | None = None

    async def start(
        self, workdir: Path, pda_listen: str | None, pda_tls: tuple[Path, Path] | None = None
    ) -> Path:
        """Start the benches and write the lane file; with ``pda_listen`` it serves the PDA there,
        over TLS with ``pda_tls`` (certificate, key), else in plaintext (insecure = true)."""
        self.rbt = RbtSimulator(profile=self.profile, time_scale=TIME_SCALE)
        if self.rtu:
            rbt_table = f'transport = "rtu"\nserial_port = "{await self.rbt.start_rtu()}"\n'
        else:
            rbt_table = f'transport = "tcp"\nhost = "127.0.0.1"\nport = {await self.rbt.start_tcp()}\n'
        self.hlt = HeadlightTesterSimulator(seed=self.seed, time_scale=TIME_SCALE)
        dyn_table = ""
        if self.with_dyn:
            self.rollers = RollerModel(time_scale=TIME_SCALE)
            self.dyn = DynSimulator(self.rollers, time_scale=TIME_SCALE)
            dyn_table = f'[dyn]\nhost = "127.0.0.1"\nport = {await self.dyn.start_tcp()}\n\n'
        self.ega = GasAnalyserSimulator(seed=self.seed, time_scale=TIME_SCALE, engine=self.rollers)
        self.opm = OpacityMeterSimulator(seed=self.seed, time_scale=TIME_SCALE, engine=self.rollers)
        pda = ""
        if pda_listen is not None:
            tls = "insecure = true\n" if pda_tls is None else f'cert = "{pda_tls[0]}"\nkey = "{pda_tls[1]}"\n'
            pda = (
                f'[pda]\nlisten = "{pda_listen}"\n{tls}directory = "inspectors.sqlite3"\n'
                f'photo_dir = "photos"\nmax_photo_bytes = 2000000\n'
            )
        text = (
            f'station_id = "{STATION_ID}"\nlane = {self.number}\nlimit_set = "b"\n\n'
            f'[rbt]\n{rbt_table}profile = "{self.profile}"\ntimeout_s = 1.0\n\n'
            f'[hlt]\nserial_port = "{self.hlt.start()}"\n\n'
            f'[ega]\nserial_port = "{self.ega.start()}"\n\n'
            f'[opm]\nserial_port = "{self.opm.start()}"\n\n'
            f"{dyn_table}[procedures]\ntime_scale = {TIME_SCALE}\n\n{pda}"
        )
        self.config_path = workdir / f"lane{self.number}.toml"
        self.config_path.write_text(text, encoding="utf-8")
        return self.config_path

    def next_vehicle(self, vehicle: Vehicle, seed: int) -> None:
        """Set the benches up for the car that drives in next (its engine, lamps and brakes)."""
        self.brake_scenario = scenario_for_vehicle(vehicle, seed)
        self.rbt.load_vehicle(self.brake_scenario)
        # GB 7258 aims a car's low beam at 0.7-0.9 H and every other vehicle's at 0.6-0.8 H.
        band = (0.72, 0.88) if vehicle.vehicle_class is VehicleClass.M1 else (0.62, 0.78)
        self.hlt.scenario = HeadlightScenario.typical(seed=seed, low_beam_band=band)
        rated = vehicle.rated_engine_speed_rpm or 5500
        self.ega.next_vehicle(EgaScenario.two_speed_idle(rated_rpm=rated, warm_up_s=30.0, zero_s=10.0))
        self.opm.next_vehicle(OpmScenario())
        if self.rollers is not None:
            self.rollers.vehicle = vehicle_on_rollers(vehicle)

    async def stop(self) -> None:
        for serial in (self.hlt, self.ega, self.opm):
            serial.stop()
        await self.rbt.stop()
        if self.dyn is not None:
            await self.dyn.stop()


def vehicle_on_rollers(vehicle: Vehicle) -> VehicleModel:
    """The physics of a vehicle from its record: rated power and speed; a diesel's truck gearing."""
    power = float(vehicle.rated_power_kw or 80)
    if vehicle.fuel is Fuel.DIESEL:
        return VehicleModel.diesel_truck(
            rated_power_kw=power, rated_rpm=float(vehicle.rated_engine_speed_rpm or 3200)
        )
    return VehicleModel.petrol_car(
        rated_power_kw=power, rated_rpm=float(vehicle.rated_engine_speed_rpm or 5500)
    )


def demo_jpeg(text: str) -> bytes:
    """A small real JPEG (what the inspector's PDA camera would send), labelled with ``text``."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 120), (40, 60, 90))
    ImageDraw.Draw(image).text((12, 50), text, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def pick_vehicles(count: int, seed: int) -> list[Vehicle]:
    """``count`` generated vehicles, petrol and diesel taking turns so both emission tests run."""
    fleet = generate_fleet(max(40, count * 8), seed=seed, as_of=date(2026, 11, 25))
    petrol = [v for v in fleet if v.fuel is Fuel.PETROL]
    diesel = [v for v in fleet if v.fuel is Fuel.DIESEL]
    others = [v for v in fleet if v.fuel not in (Fuel.PETROL, Fuel.DIESEL)]
    chosen: list[Vehicle] = []
    pools = [petrol, diesel, petrol, others]
    while len(chosen) < count and any(pools):
        for pool in pools:
            if pool and len(chosen) < count:
                chosen.append(pool.pop(0))
    return chosen


@dataclass
class Inspected:
    vehicle: Vehicle
    lane: int
    record_id: str
    record: InspectionRecord | None  # None if the visit aborted
    error: str | None


class Pda:
    """An inspector's handset: signs in once, then checks, photographs and completes vehicles."""

    def __init__(self, address: str, credential: str, ca: Path | None = None) -> None:
        from pki.grpc_credentials import server_only_channel_credentials

        self._channel = (
            grpc.aio.insecure_channel(address)
            if ca is None
            else grpc.aio.secure_channel(address, server_only_channel_credentials(ca))
        )
        self._stub = lane_pb2_grpc.LaneServiceStub(self._channel)
        self._credential = credential
        self._token = ""

    async def sign_in(self) -> None:
        reply = await self._stub.SignIn(
            lane_pb2.SignInRequest(inspector_id=INSPECTOR, credential=self._credential), timeout=10
        )
        self._token = reply.session_token

    async def check_in(self, lane: int, vehicle: Vehicle) -> str:
        reply = await self._stub.CheckIn(
            lane_pb2.CheckInRequest(session_token=self._token, lane=lane, vehicle=vehicle_to_proto(vehicle)),
            timeout=10,
        )
        return reply.record_id

    async def inspect(self, record_id: str, plate: str) -> inspection_pb2.Outcome:
        items = [lane_pb2.CheckItem(item_code=c, passed=p, note=n) for c, p, n in VISUAL_ITEMS]
        await self._stub.SubmitChecks(
            lane_pb2.SubmitChecksRequest(session_token=self._token, record_id=record_id, items=items),
            timeout=10,
        )
        photo = demo_jpeg(f"{plate}  VIN stamping")

        async def chunks() -> AsyncIterator[lane_pb2.PhotoChunk]:
            header = lane_pb2.PhotoHeader(
                session_token=self._token,
                record_id=record_id,
                item_code="vin-stamp",
                content_type="image/jpeg",
            )
            yield lane_pb2.PhotoChunk(header=header)
            for start in range(0, len(photo), 16 * 1024):
                yield lane_pb2.PhotoChunk(data=photo[start : start + 16 * 1024])

        await self._stub.UploadPhoto(chunks(), timeout=10)
        reply = await self._stub.Complete(
            lane_pb2.CompleteRequest(session_token=self._token, record_id=record_id), timeout=30
        )
        return reply.overall

    async def close(self) -> None:
        await self._channel.close()


@dataclass
class StationRig:
    """A station on simulated lanes: lane 1 default profile over TCP, lane 2 RBT-F over RTU."""

    workdir: Path
    settings_for: Callable[[Sequence[Path]], StationSettings]
    lanes: list[SimulatedLane] = field(default_factory=list)
    pda_tls: tuple[Path, Path] | None = None  # the PDA service's certificate and key; None: plaintext
    station: Station | None = None
    dyn_lanes: frozenset[int] = frozenset()  # lanes with a chassis dynamometer

    @asynccontextmanager
    async def running(
        self, lane_specs: Sequence[tuple[str, bool]] = (("default", False), ("rbt-f", True))
    ) -> AsyncIterator[Station]:
        async with AsyncExitStack() as stack:
            paths = []
            for number, (profile, rtu) in enumerate(lane_specs, start=1):
                lane = SimulatedLane(number, profile, rtu, seed=number, with_dyn=number in self.dyn_lanes)
                pda_listen = "127.0.0.1:0" if number == 1 else None
                paths.append(await lane.start(self.workdir, pda_listen, self.pda_tls))
                stack.push_async_callback(lane.stop)
                self.lanes.append(lane)
            self.station = await stack.enter_async_context(Station(self.settings_for(paths)))
            yield self.station

    async def inspect(self, pda: Pda, lane_number: int, vehicle: Vehicle, seed: int) -> Inspected:
        assert self.station is not None
        sim = self.lanes[lane_number - 1]
        lane = self.station.lane(lane_number)
        sim.next_vehicle(vehicle, seed)
        record_id = await pda.check_in(lane_number, vehicle)
        view = await lane.wait_for(record_id, LaneState.VISUAL)
        if view.state is not LaneState.VISUAL:
            return Inspected(vehicle, lane_number, record_id, None, view.error)
        await pda.inspect(record_id, vehicle.plate)
        return Inspected(vehicle, lane_number, record_id, lane.visit(record_id).record, None)


@dataclass
class RecordCheck:
    inspected: Inspected
    stored: bool
    bytes_identical: bool
    signature_valid: bool
    station_overall: str
    hub_overall: str
    mismatch: bool

    @property
    def ok(self) -> bool:
        return self.stored and self.bytes_identical and self.signature_valid and not self.mismatch


@dataclass
class DemoResult:
    checks: list[RecordCheck]
    aborted: list[Inspected]
    elapsed_s: float
    workdir: Path
    report_png: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.aborted and bool(self.checks) and all(c.ok for c in self.checks)


async def run_demo(
    workdir: Path,
    *,
    vehicles: int = 6,
    seed: int = 7,
    progress: Callable[[str], None] = lambda text: None,
    render_report: bool = True,
) -> DemoResult:
    from hub.server import HubConfig, HubServer, HubTls
    from pki.authority import Role, init_ca, issue

    started = time.monotonic()
    pki_dir = workdir / "pki"
    ca = init_ca(pki_dir / "ca", "Tongjian demo CA")
    hub_files = issue(pki_dir / "ca", Role.HUB, "hub-50", pki_dir / "hub")
    station_files = issue(pki_dir / "ca", Role.STATION, STATION_ID, pki_dir / "station")
    pda_files = issue(pki_dir / "ca", Role.LANE_SERVICE, f"lanes-{STATION_ID}", pki_dir / "pda")
    from tongjian.commands.keys import write_key_pair

    signing_key, public_key, _key_id = write_key_pair(STATION_ID, workdir / "keys")
    progress("PKI: demo CA, hub, station and PDA service certificates; station signing key")

    hub_config = HubConfig(
        database_url=f"sqlite:///{workdir / 'hub.sqlite3'}",
        province=PROVINCE,
        tls=HubTls(
            cert_pem=hub_files.cert_path.read_bytes(),
            key_pem=hub_files.key_path.read_bytes(),
            client_ca_pem=ca.cert_path.read_bytes(),
        ),
    )
    async with HubServer(hub_config) as hub:
        hub.store.register_station(STATION_ID, province=PROVINCE)
        hub.store.add_station_key(STATION_ID, public_key.read_bytes())
        progress(f"hub: listening on 127.0.0.1:{hub.port} (mTLS), station {STATION_ID} enrolled")

        def settings_for(lane_paths: Sequence[Path]) -> StationSettings:
            return StationSettings(
                station_id=STATION_ID,
                signing_key=signing_key,
                outbox_path=workdir / "outbox.sqlite3",
                hub_target=f"localhost:{hub.port}",
                tls=StationTls.from_files(ca.cert_path, station_files.cert_path, station_files.key_path),
                lanes=tuple(load_lane_config(p) for p in lane_paths),
                uplink_backoff_max_s=2.0,
            )

        rig = StationRig(
            workdir, settings_for, pda_tls=(pda_files.cert_path, pda_files.key_path), dyn_lanes=frozenset({1})
        )
        async with rig.running() as station:
            progress(
                "station: lane 1 (default profile, Modbus TCP, chassis dynamometer: ASM and lug-down), "
                "lane 2 (RBT-F, Modbus RTU on a pty, no dynamometer: two-speed idle and free acceleration), "
                f"PDA service on port {station.pda_port} (TLS)"
            )
            assert station.inspectors is not None and station.pda_port is not None
            credential = station.inspectors.issue(
                INSPECTOR, name="Li Wei", station_id=STATION_ID, lanes=[1, 2]
            )
            pda = Pda(f"127.0.0.1:{station.pda_port}", credential, ca=ca.cert_path)
            await pda.sign_in()
            chosen = pick_vehicles(vehicles, seed)
            queues: dict[int, list[tuple[int, Vehicle]]] = {1: [], 2: []}
            # Two vehicles to each lane in turn: the first petrol car and diesel get the dynamometer.
            for index, vehicle in enumerate(chosen):
                queues[1 + index // 2 % 2].append((index, vehicle))
            inspected: list[Inspected] = []

            async def run_lane(number: int) -> None:
                for index, vehicle in queues[number]:
                    result = await rig.inspect(pda, number, vehicle, seed * 1000 + index)
                    inspected.append(result)
                    state = "aborted: " + (result.error or "") if result.record is None else "done"
                    progress(f"lane {number}: {vehicle.plate} {vehicle.vehicle_class} {vehicle.fuel} {state}")

            try:
                await asyncio.gather(*(run_lane(n) for n in queues))
            finally:
                await pda.close()
            drained = await station.uplink.drain(timeout=60.0)
            progress(
                f"uplink: outbox {'drained' if drained else 'NOT drained'}; hub acknowledged every record"
            )

        checks = [check_record(hub.store, item, public_key.read_bytes()) for item in inspected if item.record]
        aborted = [item for item in inspected if item.record is None]
    result = DemoResult(checks, aborted, time.monotonic() - started, workdir)
    if render_report and checks:
        result.report_png = _render_first_report(checks[0], workdir)
    return result


def check_record(store: object, item: Inspected, public_pem: bytes) -> RecordCheck:
    """Read what the hub stored for one record and hold it against what the station signed."""
    assert item.record is not None
    stored = store.get_record(item.record_id)  # type: ignore[attr-defined]
    station_overall = item.record.station_verdict.overall.value if item.record.station_verdict else "-"
    if stored is None:
        return RecordCheck(item, False, False, False, station_overall, "-", False)
    signed = inspection_pb2.SignedRecord(
        record=stored.payload, key_id=stored.key_id, signature=stored.signature
    )
    return RecordCheck(
        inspected=item,
        stored=True,
        bytes_identical=stored.payload == record_to_bytes(item.record),
        signature_valid=signature_valid(signed, load_public_key(public_pem)),
        station_overall=str(stored.station_overall or station_overall),
        hub_overall=str(stored.hub_overall or "-"),
        mismatch=bool(stored.verdict_mismatch),
    )


def _render_first_report(check: RecordCheck, workdir: Path) -> Path | None:
    try:
        from station_agent.inspection_report import render_report
    except ImportError:
        return None
    assert check.inspected.record is not None
    _pdf, png = render_report(check.inspected.record, workdir / "reports")
    return png


def default_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="tongjian-demo-"))
