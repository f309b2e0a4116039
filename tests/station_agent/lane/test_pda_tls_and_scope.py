"""The PDA link is TLS with a pki lane-service certificate (plaintext only when asked, loudly), and a
credential acts only on the station and lanes it names. Before this the service listened in
plaintext with no warning, and any credential acted on every lane."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import grpc
import pytest

from inspection import Fuel
from pki.authority import Role, init_ca, issue
from pki.grpc_credentials import server_only_channel_credentials
from protos.record_mapping import vehicle_to_proto
from protos.tongjian.v1 import lane_pb2, lane_pb2_grpc
from station_agent.inspector_directory import InspectorDirectory, InspectorDirectoryError
from station_agent.lane import LaneState
from station_agent.lane_config import LaneConfigError, parse_lane_config
from station_agent.pda_service import InsecureNotAllowed, PdaService, start_pda_server
from station_agent.photo_store import PhotoStore
from tests.station_agent.lane.lane_rig import RunningLane, jpeg, vehicle_with
from tests.station_agent.lane.pda_rig import STATION, Pda, items, refused, stored_files, upload, visual_record


async def test_tls_handshake_works_and_a_plaintext_or_untrusting_client_gets_nothing(
    pda: Pda, tmp_path: Path
) -> None:
    reply = await pda.stub.ListVehicles(lane_pb2.ListVehiclesRequest(session_token=pda.token, lane=1))
    assert reply.station_id == STATION  # the fixture's channel is TLS, verified against the test CA

    other_ca = init_ca(tmp_path / "other-ca", "Somebody else's CA")
    for channel in (
        grpc.aio.insecure_channel(pda.address),
        grpc.aio.secure_channel(pda.address, server_only_channel_credentials(other_ca.cert_path)),
    ):
        async with channel:
            stub = lane_pb2_grpc.LaneServiceStub(channel)
            error = await refused(
                stub.SignIn(
                    lane_pb2.SignInRequest(inspector_id="insp-07", credential=pda.credential), timeout=5
                )
            )
            assert error.code() is grpc.StatusCode.UNAVAILABLE


def test_the_lane_service_certificate_is_a_server_certificate(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    init_ca(tmp_path / "ca")
    files = issue(tmp_path / "ca", Role.LANE_SERVICE, "lanes-50-0001", tmp_path / "pda")
    certificate = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]


async def test_plaintext_is_refused_unless_asked_for_and_then_logged_loudly(
    running_lane: RunningLane, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = PdaService(
        running_lane.lane, InspectorDirectory(tmp_path / "d.sqlite3"), PhotoStore(tmp_path / "p")
    )
    with pytest.raises(InsecureNotAllowed, match="insecure = true"):
        await start_pda_server(service)
    with caplog.at_level(logging.WARNING, logger="station_agent.pda_service"):
        server, port = await start_pda_server(service, insecure=True)
    try:
        (warning,) = [r for r in caplog.records if "INSECURE" in r.getMessage()]
        assert warning.levelno == logging.WARNING
        assert "PLAINTEXT" in warning.getMessage() and str(port) in warning.getMessage()
    finally:
        await server.stop(None)


LANE = """
station_id = "50-0001"
lane = 1
limit_set = "a"
[rbt]
transport = "tcp"
host = "127.0.0.1"
port = 502
[hlt]
serial_port = "/dev/ttyS1"
[ega]
serial_port = "/dev/ttyS2"
[opm]
serial_port = "/dev/ttyS3"
[pda]
listen = "127.0.0.1:0"
"""


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        ("", "pda.cert", "plaintext only with insecure = true"),
        ('cert = "c.pem"\n', "pda.key", "TLS needs both cert and key"),
        ('key = "k.pem"\n', "pda.cert", "TLS needs both cert and key"),
        ('cert = "c.pem"\nkey = "k.pem"\ninsecure = true\n', "pda.insecure", "cert and key are given too"),
        ('insecure = "yes"\n', "pda.insecure", "must be true or false"),
    ],
)
def test_the_lane_file_pda_section_needs_tls_or_an_explicit_insecure(
    extra: str, key: str, reason: str
) -> None:
    with pytest.raises(LaneConfigError) as caught:
        parse_lane_config(LANE + extra, file="lane1.toml", base_dir=Path("/etc/tongjian"))
    assert caught.value.key == key and reason in caught.value.reason


def test_the_lane_file_pda_tls_settings_reach_the_config() -> None:
    config = parse_lane_config(
        LANE + 'cert = "pki/pda.cert.pem"\nkey = "pki/pda.key.pem"\n', base_dir=Path("/l")
    )
    assert config.pda is not None
    assert (config.pda.cert, config.pda.key, config.pda.insecure) == (
        Path("/l/pki/pda.cert.pem"),
        Path("/l/pki/pda.key.pem"),
        False,
    )
    plain = parse_lane_config(LANE + "insecure = true\n", base_dir=Path("/l"))
    assert plain.pda is not None and plain.pda.insecure and plain.pda.cert is None


# --- scope -------------------------------------------------------------------------------------------


async def sign_in(pda: Pda, inspector: str, credential: str) -> str:
    reply = await pda.stub.SignIn(lane_pb2.SignInRequest(inspector_id=inspector, credential=credential))
    return reply.session_token


async def test_a_call_on_another_lanes_visit_is_permission_denied(pda: Pda) -> None:
    record_id = await visual_record(pda)
    token = await sign_in(pda, "insp-02", pda.issue("insp-02", lanes=[2]))
    vehicle = vehicle_with(Fuel.ELECTRIC, 3)
    calls = [
        pda.stub.ListVehicles(lane_pb2.ListVehiclesRequest(session_token=token, lane=1)),
        pda.stub.CheckIn(lane_pb2.CheckInRequest(session_token=token, lane=1, vehicle=vehicle_to_proto(vehicle))),
        pda.stub.SubmitChecks(lane_pb2.SubmitChecksRequest(session_token=token, record_id=record_id, items=items("0101"))),
        upload(pda, record_id, jpeg(), token=token),
        pda.stub.Complete(lane_pb2.CompleteRequest(session_token=token, record_id=record_id)),
        pda.stub.Abort(lane_pb2.AbortRequest(session_token=token, record_id=record_id, reason="not mine")),
        pda.stub.WatchVisit(lane_pb2.WatchVisitRequest(session_token=token, record_id=record_id)).read(),
    ]  # fmt: skip
    for call in calls:
        error = await refused(call)
        assert error.code() is grpc.StatusCode.PERMISSION_DENIED, error.details()
        assert "covers lanes 2, not lane 1" in (error.details() or "")
    view = pda.lane.lane.visit(record_id)
    assert (view.state, view.checked_items, view.photo_count) == (LaneState.VISUAL, (), 0)
    assert len(pda.lane.lane.visits()) == 1 and pda.lane.completed == [] and stored_files(pda) == []
    # the lane's own inspector still acts on it
    await pda.stub.SubmitChecks(
        lane_pb2.SubmitChecksRequest(session_token=pda.token, record_id=record_id, items=items("0101"))
    )


async def test_a_credential_for_another_station_does_not_sign_in(pda: Pda) -> None:
    credential = pda.issue("insp-09", lanes=[1], station="50-0002")
    error = await refused(
        pda.stub.SignIn(lane_pb2.SignInRequest(inspector_id="insp-09", credential=credential))
    )
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "for station 50-0002, this is station 50-0001" in (error.details() or "")


def test_credentials_issued_before_scopes_name_none_and_the_file_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "inspectors.sqlite3"
    with sqlite3.connect(path) as db:  # the file as the first release wrote it
        db.execute(
            "CREATE TABLE inspectors (inspector_id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '',"
            " salt BLOB NOT NULL, hash BLOB NOT NULL, scrypt_n INTEGER NOT NULL, scrypt_r INTEGER NOT NULL,"
            " scrypt_p INTEGER NOT NULL, issued_at TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO inspectors VALUES ('insp-01', '', x'00', x'00', 16384, 8, 1, '2026-01-01T00:00:00+00:00')"
        )
    directory = InspectorDirectory(path)
    (old,) = directory.inspectors()
    assert (old.inspector_id, old.station_id, old.lanes) == ("insp-01", "", frozenset())
    credential = directory.issue("insp-01", station_id=STATION, lanes=[1, 2])
    scoped = directory.authenticate("insp-01", credential)
    assert scoped is not None and (scoped.station_id, scoped.lanes) == (STATION, frozenset({1, 2}))
    for lanes in ([], [0], [100]):
        with pytest.raises(InspectorDirectoryError, match="lanes"):
            directory.issue("insp-02", station_id=STATION, lanes=lanes)
    with pytest.raises(InspectorDirectoryError, match="station"):
        directory.issue("insp-02", station_id=" ", lanes=[1])


def test_agent_run_checks_the_pda_tls_files_before_opening_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], station_key: object
) -> None:
    from tongjian.cli import main

    lane_file = tmp_path / "lane1.toml"
    lane_file.write_text(LANE + 'cert = "missing.cert.pem"\nkey = "missing.key.pem"\n', encoding="utf-8")
    argv = [
        "agent", "run", "--station-id", "50-0001", "--outbox", str(tmp_path / "o.db"), "--hub", "127.0.0.1:1",
        "--insecure", "--signing-key", str(station_key.private_path),  # type: ignore[attr-defined]
        "--lane", str(lane_file),
    ]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{lane_file}: [pda]" in err and "missing.cert.pem" in err and "Traceback" not in err
