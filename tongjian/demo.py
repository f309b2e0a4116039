"""The end-to-end demo: two province hubs, a station with two simulated lanes, inspectors, one PKI.

Everything is real and local: the Sichuan (川, 51) and Chongqing (渝, 50) hubs are gRPC servers
on SQLite files, federated by a national trust list signed for the demo; the station 51-0001 is in
Sichuan; its benches are simulators on a loopback Modbus TCP port and on pseudo-terminals (lane
1: default brake profile over TCP and a chassis dynamometer, so petrol cars take ASM and diesels
lug-down; lane 2: the RBT-F profile over Modbus RTU and no dynamometer, so the no-load fallbacks;
both lanes read OBD through an ELM327 adapter), the inspectors use the PDA gRPC service, and the
station delivers to the Sichuan hub over mutual TLS with certificates from a throwaway CA. Cars
registered in Chongqing are forwarded by the Sichuan hub, countersigned, to the Chongqing hub over
mTLS with peer-hub certificates.

The demo then reads both hubs' databases back: every record arrived once at the Sichuan hub, byte
for byte as signed, with a valid signature and agreeing verdicts; and every Chongqing car's record
arrived once at the Chongqing hub, its station and hub signatures verifying there (its journey).

``StationRig`` (benches + lanes on simulators) is also what the end-to-end tests use.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.envelope_check import EnvelopeLimits
from hub.forwarded_record import recheck_forwarded
from hub.forwarder import ForwarderSettings
from hub.server import FederationConfig, HubConfig, HubServer, HubTls
from hub.store import HubStore
from hub.transfer_driver import TransferSettings
from hub.trust_list import NATIONAL_SIGNER, ProvinceHubEntry, build_trust_list
from inspection import Fuel, InspectionRecord, Vehicle, VehicleClass
from inspection.vehicle_register_csv import RegisterRow
from protos.envelope import load_public_key, signature_valid
from protos.record_mapping import record_to_bytes, vehicle_to_proto
from protos.signed_document import sign_document
from protos.tongjian.v1 import federation_pb2, inspection_pb2, lane_pb2, lane_pb2_grpc
from simulators.brake_scenario import BrakeScenario, scenario_for_vehicle
from simulators.dyn_sim import DynSimulator
from simulators.ega_sim import EgaScenario, GasAnalyserSimulator
from simulators.fleet import generate_fleet, owner_reference, register_identity
from simulators.hlt_sim import HeadlightScenario, HeadlightTesterSimulator
from simulators.obd_sim import ObdScenario, ObdSimulator
from simulators.opm_sim import OpacityMeterSimulator, OpmScenario
from simulators.rbt_server import RbtSimulator
from simulators.vehicle_on_rollers import RollerModel, VehicleModel
from station_agent.lane import LaneState
from station_agent.lane_config import load_lane_config
from station_agent.station import Station, StationSettings, StationTls
from tongjian.label_demo import LabelDemo, run_label_demo
from tongjian.transfer_demo import TransferDemo, run_transfer_demo

log = logging.getLogger(__name__)

STATION_ID = "51-0001"
PROVINCE = "51"  # Sichuan: the station's province, whose hub it sends to
REGISTRATION_PROVINCE = "50"  # Chongqing: where some of the inspected cars are registered
INSPECTOR = "51-0001-07"
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
    obd: ObdSimulator = field(init=False)
    config_path: Path | None = None
    brake_scenario: BrakeScenario | None = None
    station_id: str = STATION_ID
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
        self.obd = ObdSimulator(seed=self.seed)
        pda = ""
        if pda_listen is not None:
            tls = "insecure = true\n" if pda_tls is None else f'cert = "{pda_tls[0]}"\nkey = "{pda_tls[1]}"\n'
            pda = (
                f'[pda]\nlisten = "{pda_listen}"\n{tls}directory = "inspectors.sqlite3"\n'
                f'photo_dir = "photos"\nmax_photo_bytes = 2000000\n'
                # The PDA page for a handheld's browser, on a port of its own.
                f'web_listen = "127.0.0.1:0"\n'
            )
        text = (
            f'station_id = "{self.station_id}"\nlane = {self.number}\nlimit_set = "b"\n\n'
            f'[rbt]\n{rbt_table}profile = "{self.profile}"\ntimeout_s = 1.0\n\n'
            f'[hlt]\nserial_port = "{self.hlt.start()}"\n\n'
            f'[ega]\nserial_port = "{self.ega.start()}"\n\n'
            f'[opm]\nserial_port = "{self.opm.start()}"\n\n'
            # A fixed protocol: python-OBD's automatic search costs a second more per vehicle.
            f'[obd]\nserial_port = "{self.obd.start()}"\nprotocol = "6"\ntimeout_s = 1.0\n\n'
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
        # Its engine ECU, behind the OBD socket: in good order, and holding the vehicle's own VIN.
        self.obd.use(ObdScenario.mil_off(vehicle.vin, compression=vehicle.fuel is Fuel.DIESEL))
        if self.rollers is not None:
            self.rollers.vehicle = vehicle_on_rollers(vehicle)

    async def stop(self) -> None:
        for serial in (self.hlt, self.ega, self.opm, self.obd):
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
    """``count`` generated vehicles registered in Sichuan or Chongqing, petrol and diesel taking
    turns so both emission tests run."""
    fleet = [
        vehicle
        for vehicle in generate_fleet(max(60, count * 12), seed=seed, as_of=date(2026, 11, 25))
        if vehicle.registration_province in (PROVINCE, REGISTRATION_PROVINCE)
    ]
    # A Chongqing car first and a Sichuan one second, so even two vehicles show both paths.
    petrol = _first_from([v for v in fleet if v.fuel is Fuel.PETROL], REGISTRATION_PROVINCE)
    diesel = _first_from([v for v in fleet if v.fuel is Fuel.DIESEL], PROVINCE)
    others = [v for v in fleet if v.fuel not in (Fuel.PETROL, Fuel.DIESEL)]
    chosen: list[Vehicle] = []
    pools = [petrol, diesel, petrol, others]
    while len(chosen) < count and any(pools):
        for pool in pools:
            if pool and len(chosen) < count:
                chosen.append(pool.pop(0))
    return chosen


def _first_from(vehicles: list[Vehicle], province: str) -> list[Vehicle]:
    for index, vehicle in enumerate(vehicles):
        if vehicle.registration_province == province:
            return [vehicle, *vehicles[:index], *vehicles[index + 1 :]]
    return vehicles


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
class Journey:
    """Where one Chongqing car's record went: station -> Sichuan hub -> Chongqing hub."""

    inspected: Inspected
    stored_at: datetime | None  # the Sichuan hub's receive time
    queued_at: datetime | None  # outbox item written (same transaction as the record)
    delivered_at: datetime | None  # the Chongqing hub's Ack settled the item
    arrived_at: datetime | None  # committed at the Chongqing hub
    directory_sequence: int | None  # the Sichuan directory the station signature was checked with
    problem: str | None  # None: both signatures verify at the Chongqing hub

    @property
    def ok(self) -> bool:
        return self.arrived_at is not None and self.problem is None


@dataclass
class DemoResult:
    checks: list[RecordCheck]
    aborted: list[Inspected]
    elapsed_s: float
    workdir: Path
    report_png: Path | None = None
    journeys: list[Journey] = field(default_factory=list)
    labels: LabelDemo | None = None
    # The staff console of the Sichuan hub and a ready sign-in (person id, password) per role.
    console_url: str | None = None
    sign_ins: dict[str, tuple[str, str]] = field(default_factory=dict)
    pda_page_url: str | None = None
    transfer: TransferDemo | None = None

    @property
    def ok(self) -> bool:
        return (
            not self.aborted
            and bool(self.checks)
            and all(c.ok for c in self.checks)
            and all(j.ok for j in self.journeys)
            and (self.labels is None or self.labels.ok)
            and (self.transfer is None or self.transfer.ok)
        )


@dataclass(frozen=True)
class _DemoHub:
    province: str
    name: str
    key: Ed25519PrivateKey
    config: HubConfig


async def run_demo(
    workdir: Path,
    *,
    vehicles: int = 6,
    seed: int = 7,
    progress: Callable[[str], None] = lambda text: None,
    render_report: bool = True,
    stay: Callable[[], Awaitable[None]] | None = None,
) -> DemoResult:
    """Run it; with ``stay`` the hubs, the console, the station and its PDA page keep serving, after
    the vehicles are inspected and delivered, until ``stay`` returns (``tongjian demo --stay``)."""
    from pki.authority import Role, init_ca, issue

    started = time.monotonic()
    pki_dir = workdir / "pki"
    ca = init_ca(pki_dir / "ca", "Tongjian demo CA")
    station_files = issue(pki_dir / "ca", Role.STATION, STATION_ID, pki_dir / "station")
    pda_files = issue(pki_dir / "ca", Role.LANE_SERVICE, f"lanes-{STATION_ID}", pki_dir / "pda")
    from tongjian.commands.keys import write_key_pair

    signing_key, public_key, _key_id = write_key_pair(STATION_ID, workdir / "keys")
    national = Ed25519PrivateKey.generate()
    hubs = [
        _demo_hub(PROVINCE, "Sichuan", workdir, pki_dir, ca.cert_path, national, console=True),
        _demo_hub(REGISTRATION_PROVINCE, "Chongqing", workdir, pki_dir, ca.cert_path, national),
    ]
    progress(
        "PKI: demo CA; hub and peer-hub certificates for 川 (51) and 渝 (50); station and PDA certificates; "
        "national trust-list key; station signing key"
    )
    chosen = pick_vehicles(vehicles, seed)
    # The first petrol car and the first diesel (both to lane 1, on the rollers) have OBD: each gets
    # the OBD check before its ASM / lug-down (about 1 s more; python-OBD waits 1 s after resetting
    # the adapter), the in-use emission test of GB 18285 / GB 3847 in full.
    for index in range(min(2, len(chosen))):
        chosen[index] = replace(chosen[index], has_obd=True)
    async with HubServer(hubs[0].config) as sichuan, HubServer(hubs[1].config) as chongqing:
        trust = _publish_trust_list(
            national, hubs, {PROVINCE: sichuan.port, REGISTRATION_PROVINCE: chongqing.port}
        )
        for server in (sichuan, chongqing):
            server.store.trust_lists.install(trust, national.public_key(), datetime.now(UTC))
        sichuan.store.register_station(STATION_ID, province=PROVINCE)
        sichuan.store.add_station_key(STATION_ID, public_key.read_bytes())
        for server, province in ((sichuan, PROVINCE), (chongqing, REGISTRATION_PROVINCE)):
            rows = [
                RegisterRow(line, v, owner_reference(seed, line), *register_identity(seed, line, v))
                for line, v in enumerate(chosen, 2)
            ]
            server.store.vehicles.import_rows(rows, province)
        progress(
            f"hubs: 川 Sichuan on 127.0.0.1:{sichuan.port}, 渝 Chongqing on 127.0.0.1:{chongqing.port} (mTLS); "
            f"national trust list v1 installed at both; station {STATION_ID} enrolled in Sichuan; vehicle "
            "registers imported"
        )
        console_url = f"http://127.0.0.1:{sichuan.console_port}/"
        sign_ins = _console_staff(sichuan)
        progress(
            f"console: 川 hub staff console on {console_url}; sign in as "
            + "; ".join(f"{role} {person} / {password}" for role, (person, password) in sign_ins.items())
        )

        def settings_for(lane_paths: Sequence[Path]) -> StationSettings:
            return StationSettings(
                station_id=STATION_ID,
                signing_key=signing_key,
                outbox_path=workdir / "outbox.sqlite3",
                hub_target=f"localhost:{sichuan.port}",
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
            pda_page_url = f"{station.pda_web_scheme}://127.0.0.1:{station.pda_web_port}/"
            progress(
                f"PDA page: {pda_page_url} (TLS from the demo CA: {ca.cert_path}); sign in as inspector "
                f"{INSPECTOR} / {credential}"
            )
            pda = Pda(f"127.0.0.1:{station.pda_port}", credential, ca=ca.cert_path)
            await pda.sign_in()
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
                    if result.record is not None and result.record.obd is not None:
                        obd = result.record.obd
                        state += f" (OBD: MIL {'on' if obd.mil_on else 'off'}, ECU VIN {obd.vin or '-'})"
                    progress(f"lane {number}: {vehicle.plate} {vehicle.vehicle_class} {vehicle.fuel} {state}")

            try:
                await asyncio.gather(*(run_lane(n) for n in queues))
            finally:
                await pda.close()
            drained = await station.uplink.drain(timeout=60.0)
            progress(
                f"uplink: outbox {'drained' if drained else 'NOT drained'}; the Sichuan hub acknowledged every record"
            )
            # Into the review queue now (the demo hub screens on demand), for the console's reviewers.
            await asyncio.to_thread(sichuan.review.screen_all)
            if stay is not None:
                progress(
                    f"serving: console {console_url}, PDA page {pda_page_url}; Ctrl-C to finish the demo"
                )
                await stay()

        checks = [
            check_record(sichuan.store, item, public_key.read_bytes()) for item in inspected if item.record
        ]
        aborted = [item for item in inspected if item.record is None]
        travelling = [
            item
            for item in inspected
            if item.record is not None and item.vehicle.registration_province == REGISTRATION_PROVINCE
        ]
        await _wait_for_arrival(chongqing, travelling, timeout_s=30.0)
        journeys = [
            journey_of(sichuan.store, chongqing.store, national.public_key(), item) for item in travelling
        ]
        arrived = sum(journey.arrived_at is not None for journey in journeys)
        progress(
            f"federation: {arrived} of {len(journeys)} Chongqing cars' records arrived at the Chongqing hub"
        )
        person = issue(pki_dir / "ca", Role.PERSON, "officer-17", pki_dir / "person")
        labels = await run_label_demo(
            sichuan, chongqing, workdir, ca.cert_path, person.cert_path, person.key_path
        )
        progress(
            f"labels: {labels.inspection_labels} inspection labels for {labels.passed_records} passed records; "
            "exemption applied in Sichuan for a Chongqing car, rendered, verified offline, revoked"
        )
        transfer = None
        if travelling:
            clerk = issue(pki_dir / "ca", Role.REGISTRY_CLERK, "clerk-51-wang", pki_dir / "clerk")
            transfer = await run_transfer_demo(
                sichuan,
                chongqing,
                travelling[0].vehicle,
                ca.cert_path,
                clerk.cert_path,
                clerk.key_path,
                demo_jpeg("identity check"),
            )
            progress(
                f"archive transfer: {transfer.old_plate} -> {transfer.new_plate or '-'} "
                f"({'done' if transfer.ok else transfer.problem})"
            )
    result = DemoResult(
        checks,
        aborted,
        time.monotonic() - started,
        workdir,
        journeys=journeys,
        labels=labels,
        console_url=console_url,
        sign_ins=sign_ins,
        pda_page_url=pda_page_url,
        transfer=transfer,
    )
    if render_report and checks:
        result.report_png = _render_first_report(checks[0], workdir)
    return result


def _console_staff(hub: HubServer) -> dict[str, tuple[str, str]]:
    """One person of each console role on ``hub``: role -> (person id, password)."""
    from hub.console.roles import StaffRole
    from hub.console.staff_directory import StaffDirectory

    staff = StaffDirectory(hub.store.database)
    people = {
        StaffRole.REVIEWER: "wang.fang",
        StaffRole.SENIOR_REVIEWER: "zhao.lei",
        StaffRole.REGISTRY_CLERK: "liu.yang",
        StaffRole.ADMIN: "chen.jie",
    }
    return {role.value: (person, staff.issue(person, role)) for role, person in people.items()}


def _demo_hub(
    province: str,
    name: str,
    workdir: Path,
    pki_dir: Path,
    ca_cert: Path,
    national: Ed25519PrivateKey,
    *,
    console: bool = False,
) -> _DemoHub:
    from pki.authority import Role, issue

    hub_files = issue(pki_dir / "ca", Role.HUB, f"hub-{province}", pki_dir / f"hub-{province}")
    peer_files = issue(pki_dir / "ca", Role.PEER_HUB, f"hub-{province}.peer", pki_dir / f"peer-{province}")
    key = Ed25519PrivateKey.generate()
    config = HubConfig(
        database_url=f"sqlite:///{workdir / f'hub-{province}.sqlite3'}",
        province=province,
        console_listen="127.0.0.1:0" if console else None,
        tls=HubTls(
            cert_pem=hub_files.cert_path.read_bytes(),
            key_pem=hub_files.key_path.read_bytes(),
            client_ca_pem=ca_cert.read_bytes(),
        ),
        federation=FederationConfig(
            hub_key=key,
            national_key=national.public_key(),
            peer_cert_pem=peer_files.cert_path.read_bytes(),
            peer_key_pem=peer_files.key_path.read_bytes(),
            forwarder=ForwarderSettings(poll_s=0.5),
        ),
        archive_transfer=TransferSettings(archive_dir=workdir / f"archives-{province}", poll_s=0.5),
    )
    return _DemoHub(province, name, key, config)


def _publish_trust_list(
    national: Ed25519PrivateKey, hubs: Sequence[_DemoHub], ports: dict[str, int]
) -> federation_pb2.SignedDocument:
    """What `tongjian national add-province` does for each province, in one go."""
    now = datetime.now(UTC)
    entries = [
        ProvinceHubEntry.create(
            hub.province,
            hub.name,
            f"localhost:{ports[hub.province]}",
            f"hub-{hub.province}.peer",
            hub.config.tls.client_ca_pem if hub.config.tls is not None else b"",
            hub.key.public_key(),
        )
        for hub in hubs
    ]
    body = build_trust_list(1, entries, now - timedelta(minutes=1), now + timedelta(days=30))
    return sign_document(body, NATIONAL_SIGNER, national)


async def _wait_for_arrival(registration: HubServer, items: Sequence[Inspected], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    wanted = {(STATION_ID, item.record_id) for item in items}
    while time.monotonic() < deadline:
        if wanted <= set(await asyncio.to_thread(registration.store.foreign_records.keys)):
            return
        await asyncio.sleep(0.1)


def journey_of(
    inspecting: HubStore, registration: HubStore, national_key: Ed25519PublicKey, item: Inspected
) -> Journey:
    """Read one record's way back from both hubs' databases and check it again at the end."""
    stored = inspecting.get_record(item.record_id, STATION_ID)
    queued = inspecting.outbox.for_record(STATION_ID, item.record_id)
    arrived = registration.foreign_records.get(STATION_ID, item.record_id)
    problem: str | None = "not arrived at the registration hub"
    sequence = None
    if arrived is not None:
        sequence = arrived.directory_sequence
        now = datetime.now(UTC)
        trust = registration.trust_lists.current(national_key, now)
        entry = trust.entry(PROVINCE) if trust is not None else None
        directory = (
            registration.peer_directories.get_any(PROVINCE, entry.hub_public_key, now)
            if entry is not None
            else None
        )
        problem = recheck_forwarded(arrived, trust, directory, EnvelopeLimits())
    return Journey(
        inspected=item,
        stored_at=stored.received_at if stored is not None else None,
        queued_at=queued.created_at if queued is not None else None,
        delivered_at=queued.delivered_at if queued is not None else None,
        arrived_at=arrived.arrived_at if arrived is not None else None,
        directory_sequence=sequence,
        problem=problem,
    )


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
