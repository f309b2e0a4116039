"""The PDA service over a real grpc.aio server and a real lane on simulated benches.

Every refusal has its status code, and a refused call leaves nothing behind: no photo file, no
partial check list, no second completion.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from datetime import UTC
from pathlib import Path

import grpc
import pytest

from inspection import Fuel
from protos.record_mapping import vehicle_to_proto
from protos.tongjian.v1 import inspection_pb2, lane_pb2, lane_pb2_grpc
from station_agent.inspector_directory import InspectorDirectory
from station_agent.lane import LaneState
from station_agent.pda_service import PdaService, start_pda_server
from station_agent.photo_store import PhotoStore
from tests.station_agent.lane.lane_rig import RunningLane, jpeg, vehicle_with
from tests.station_agent.lane.pda_rig import (
    INSPECTOR,
    MAX_PHOTO,
    STATION,
    Pda,
    chunks,
    items,
    refused,
    run_cli,
    stored_files,
    upload,
    visual_record,
)
from tongjian.cli import CommandError
from tongjian.commands import pda as pda_command


async def test_wrong_credential_and_bad_tokens_are_unauthenticated(pda: Pda) -> None:
    record_id = await visual_record(pda)
    for inspector, credential in (
        (INSPECTOR, pda.credential + "x"),
        ("nobody", pda.credential),
        (INSPECTOR, ""),
    ):
        error = await refused(
            pda.stub.SignIn(lane_pb2.SignInRequest(inspector_id=inspector, credential=credential))
        )
        assert error.code() is grpc.StatusCode.UNAUTHENTICATED
        assert error.details() == "wrong inspector id or credential"
    for token in ("", "forged-token"):
        calls = [
            pda.stub.ListVehicles(lane_pb2.ListVehiclesRequest(session_token=token, lane=1)),
            pda.stub.SubmitChecks(lane_pb2.SubmitChecksRequest(session_token=token, record_id=record_id, items=items("0101"))),
            upload(pda, record_id, jpeg(), token=token),
            pda.stub.Complete(lane_pb2.CompleteRequest(session_token=token, record_id=record_id)),
        ]  # fmt: skip
        for call in calls:
            assert (await refused(call)).code() is grpc.StatusCode.UNAUTHENTICATED
    view = pda.lane.lane.visit(record_id)
    assert (view.state, view.checked_items, view.photo_count) == (LaneState.VISUAL, (), 0)
    assert stored_files(pda) == []


async def test_revoking_or_reissuing_a_credential_ends_its_sessions(
    running_lane: RunningLane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = InspectorDirectory(tmp_path / "inspectors.sqlite3")
    service = PdaService(running_lane.lane, directory, PhotoStore(tmp_path / "photos"), session_recheck_s=0)
    server, port = await start_pda_server(service, insecure=True)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = lane_pb2_grpc.LaneServiceStub(channel)

            async def session(inspector: str) -> str:
                credential = directory.issue(inspector, station_id=STATION, lanes=[1])
                reply = await stub.SignIn(
                    lane_pb2.SignInRequest(inspector_id=inspector, credential=credential)
                )
                return reply.session_token

            def listing(token: str) -> object:
                return stub.ListVehicles(lane_pb2.ListVehiclesRequest(session_token=token, lane=1))

            revoked, reissued, other = (
                await session("insp-01"),
                await session("insp-02"),
                await session("insp-03"),
            )
            for token in (revoked, reissued, other):
                await listing(token)
            monkeypatch.delenv(pda_command.TOKEN_VARIABLE, raising=False)
            status, out = await asyncio.to_thread(
                run_cli, ["revoke-credential", "--inspector", "insp-01", "--directory", str(directory.path)]
            )
            assert status == 0 and "revoked insp-01" in out
            directory.issue(
                "insp-02", station_id=STATION, lanes=[1]
            )  # a new credential: the old one's sessions end as well
            for token in (revoked, reissued):
                error = await refused(listing(token))
                assert error.code() is grpc.StatusCode.UNAUTHENTICATED
                assert "revoked or re-issued" in (error.details() or "")
            await listing(other)  # nobody else is signed out
            with pytest.raises(CommandError, match="no inspector 'insp-01'"):
                await asyncio.to_thread(
                    run_cli,
                    ["revoke-credential", "--inspector", "insp-01", "--directory", str(directory.path)],
                )
    finally:
        await server.stop(None)


async def test_unknown_lane_and_record_are_not_found(pda: Pda) -> None:
    error = await refused(
        pda.stub.ListVehicles(lane_pb2.ListVehiclesRequest(session_token=pda.token, lane=9))
    )
    assert error.code() is grpc.StatusCode.NOT_FOUND and "no lane 9" in (error.details() or "")
    for record_id in (str(uuid.uuid4()), "not-a-uuid"):
        calls = [
            pda.stub.SubmitChecks(lane_pb2.SubmitChecksRequest(session_token=pda.token, record_id=record_id, items=items("0101"))),
            upload(pda, record_id, jpeg()),
            pda.stub.Complete(lane_pb2.CompleteRequest(session_token=pda.token, record_id=record_id)),
        ]  # fmt: skip
        for call in calls:
            error = await refused(call)
            assert error.code() is grpc.StatusCode.NOT_FOUND
            assert record_id in (error.details() or "")
    assert stored_files(pda) == []


async def test_list_vehicles_shows_state(pda: Pda) -> None:
    record_id = await visual_record(pda)
    reply = await pda.stub.ListVehicles(lane_pb2.ListVehiclesRequest(session_token=pda.token, lane=1))
    assert (reply.station_id, reply.lane) == (pda.lane.lane.station_id, 1)
    (vehicle,) = reply.vehicles
    assert vehicle.record_id == record_id
    assert vehicle.vin == pda.lane.lane.visit(record_id).vehicle.vin
    assert vehicle.state == lane_pb2.LANE_STATE_VISUAL
    assert vehicle.fuel == inspection_pb2.FUEL_ELECTRIC


async def test_bad_check_list_is_refused_whole(pda: Pda) -> None:
    record_id = await visual_record(pda)
    ok = await pda.stub.SubmitChecks(
        lane_pb2.SubmitChecksRequest(session_token=pda.token, record_id=record_id, items=items("0101"))
    )
    assert list(ok.checked_items) == ["0101"]
    for bad in (
        items("0102", "bad code!"),
        items("0102", "0102"),
        items(),
        [lane_pb2.CheckItem(item_code="0103", note="x" * 501)],
    ):
        error = await refused(
            pda.stub.SubmitChecks(
                lane_pb2.SubmitChecksRequest(session_token=pda.token, record_id=record_id, items=bad)
            )
        )
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert pda.lane.lane.visit(record_id).checked_items == ("0101",)  # nothing of the refused calls


async def test_photo_refusals_leave_no_file(pda: Pda) -> None:
    record_id = await visual_record(pda)
    too_big = jpeg(b"x" * MAX_PHOTO)
    error = await refused(upload(pda, record_id, too_big))
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(MAX_PHOTO) in (error.details() or "")

    for data in (b"GIF89a" + b"\x00" * 50, jpeg()[:-2], b""):
        error = await refused(upload(pda, record_id, data))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "JPEG" in (error.details() or "")

    error = await refused(upload(pda, record_id, jpeg(), item="bad code!"))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT and "item code" in (error.details() or "")
    error = await refused(upload(pda, record_id, jpeg(), content_type="image/png"))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    error = await refused(pda.stub.UploadPhoto(iter(chunks(None, jpeg()))))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT and "header" in (error.details() or "")
    error = await refused(pda.stub.UploadPhoto(iter([])))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT

    assert stored_files(pda) == []
    assert pda.lane.lane.visit(record_id).photo_count == 0


async def test_photos_content_addressed_in_the_record_and_second_completion_refused(pda: Pda) -> None:
    record_id = await visual_record(pda)
    front, vin_plate = jpeg(b"front of the car"), jpeg(b"VIN plate" * 300)  # the second spans chunks
    replies = [
        await upload(pda, record_id, front, item="0101"),
        await upload(pda, record_id, vin_plate, item="0102"),
    ]
    assert [r.sha256 for r in replies] == [
        hashlib.sha256(front).hexdigest(),
        hashlib.sha256(vin_plate).hexdigest(),
    ]
    assert [r.size_bytes for r in replies] == [len(front), len(vin_plate)]
    for reply, data in zip(replies, (front, vin_plate), strict=True):
        assert pda.photos.path_of(reply.sha256).read_bytes() == data
    await upload(pda, record_id, front, item="0101")  # the same photo again: stored and listed once
    assert len(stored_files(pda)) == 2

    await pda.stub.SubmitChecks(
        lane_pb2.SubmitChecksRequest(
            session_token=pda.token, record_id=record_id, items=items("0101", "0102")
        )
    )
    done = await pda.stub.Complete(lane_pb2.CompleteRequest(session_token=pda.token, record_id=record_id))
    (record,) = pda.lane.completed
    assert done.record_id == record_id == str(record.record_id)
    assert record.station_verdict is not None
    assert done.overall == getattr(inspection_pb2, f"OUTCOME_{record.station_verdict.overall.name}")
    assert [(p.sha256, p.item_code, p.size_bytes, p.content_type) for p in record.photos] == [
        (replies[0].sha256, "0101", len(front), "image/jpeg"),
        (replies[1].sha256, "0102", len(vin_plate), "image/jpeg"),
    ]
    assert [(c.item_code, c.passed, c.inspector_id) for c in record.visual_checks] == [
        ("0101", True, INSPECTOR),
        ("0102", True, INSPECTOR),
    ]

    again = await refused(
        pda.stub.Complete(lane_pb2.CompleteRequest(session_token=pda.token, record_id=record_id))
    )
    assert again.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "complete is not allowed in state complete" in (again.details() or "")
    late = await refused(
        pda.stub.SubmitChecks(
            lane_pb2.SubmitChecksRequest(session_token=pda.token, record_id=record_id, items=items("0103"))
        )
    )
    assert late.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert (
        await refused(upload(pda, record_id, jpeg(b"late")))
    ).code() is grpc.StatusCode.FAILED_PRECONDITION
    assert len(pda.lane.completed) == 1 and len(stored_files(pda)) == 2


async def test_concurrent_completions_hand_over_once(pda: Pda) -> None:
    record_id = await visual_record(pda)
    calls = [
        pda.stub.Complete(lane_pb2.CompleteRequest(session_token=pda.token, record_id=record_id))
        for _ in range(3)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    refusals = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(refusals) == 2 and all(r.code() is grpc.StatusCode.FAILED_PRECONDITION for r in refusals)
    assert len(pda.lane.completed) == 1


# --- the command-line PDA ---------------------------------------------------------------------------


async def test_command_line_pda(pda: Pda, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pda_command.TOKEN_VARIABLE, raising=False)
    monkeypatch.delenv(pda_command.CREDENTIAL_VARIABLE, raising=False)
    directory = tmp_path / "inspectors.sqlite3"  # the fixture's directory: the server verifies against it
    status, out = await asyncio.to_thread(
        run_cli,
        [
            "issue-credential",
            "--inspector",
            "insp-08",
            "--station",
            STATION,
            "--lanes",
            "1",
            "--directory",
            str(directory),
        ],
    )
    credential = out.strip()
    assert status == 0 and pda.directory.verify("insp-08", credential)

    record_id = await visual_record(pda)
    server = pda.cli_server
    status, out = await asyncio.to_thread(
        run_cli, ["sign-in", *server, "--inspector", "insp-08"], credential + "\n"
    )
    token = out.strip()
    assert status == 0 and token
    with_token = [*server, "--token", token]

    status, out = await asyncio.to_thread(run_cli, ["vehicles", *with_token, "--lane", "1"])
    assert status == 0 and record_id in out and "visual" in out

    status, out = await asyncio.to_thread(
        run_cli,
        ["check", *with_token, "--record", record_id, "--item", "0101=pass", "--item", "0102=fail:worn tyre"],
    )
    assert status == 0 and "accepted 2" in out

    photo = tmp_path / "front.jpg"
    photo.write_bytes(jpeg(b"cli photo"))
    status, out = await asyncio.to_thread(
        run_cli, ["photo", *with_token, "--record", record_id, "--item", "0101", str(photo)]
    )
    assert status == 0 and out.strip() == hashlib.sha256(photo.read_bytes()).hexdigest()

    status, out = await asyncio.to_thread(run_cli, ["complete", *with_token, "--record", record_id])
    assert status == 0 and out.startswith(record_id)
    (record,) = pda.lane.completed
    assert [(c.item_code, c.passed, c.note, c.inspector_id) for c in record.visual_checks] == [
        ("0101", True, "", "insp-08"),
        ("0102", False, "worn tyre", "insp-08"),
    ]

    # User errors are CommandErrors that say what went wrong.
    with pytest.raises(CommandError, match="FAILED_PRECONDITION"):
        await asyncio.to_thread(run_cli, ["complete", *with_token, "--record", record_id])
    with pytest.raises(CommandError, match="UNAUTHENTICATED"):
        await asyncio.to_thread(run_cli, ["sign-in", *server, "--inspector", "insp-08"], "wrong\n")
    with pytest.raises(CommandError, match="CODE=pass"):
        await asyncio.to_thread(
            run_cli, ["check", *with_token, "--record", record_id, "--item", "0101=maybe"]
        )
    with pytest.raises(CommandError, match="no session token"):
        await asyncio.to_thread(run_cli, ["vehicles", *server, "--lane", "1"])
    with pytest.raises(CommandError, match="inspector id"):
        await asyncio.to_thread(
            run_cli,
            [
                "issue-credential",
                "--inspector",
                "a b",
                "--station",
                STATION,
                "--lanes",
                "1",
                "--directory",
                str(directory),
            ],
        )


def wrong_check_digit(vin: str) -> str:
    digit = vin[8]
    return vin[:8] + ("0" if digit != "0" else "1") + vin[9:]


async def test_check_in_starts_the_benches_and_refuses_bad_vehicles_and_a_busy_lane(pda: Pda) -> None:
    vehicle = vehicle_with(Fuel.ELECTRIC, 0)
    pda.lane.benches.next_vehicle(vehicle, seed=0)

    def request(token: str | None = None, lane: int = 1, **changes: str) -> lane_pb2.CheckInRequest:
        message = vehicle_to_proto(dataclasses.replace(vehicle, **changes))
        return lane_pb2.CheckInRequest(
            session_token=pda.token if token is None else token, lane=lane, vehicle=message
        )

    refusals = [
        (request(vin=wrong_check_digit(vehicle.vin)), grpc.StatusCode.INVALID_ARGUMENT, "vehicle.vin"),
        (request(plate="XX12345"), grpc.StatusCode.INVALID_ARGUMENT, "vehicle.plate"),
        (request(registration_province="5"), grpc.StatusCode.INVALID_ARGUMENT, "vehicle.registration_province"),
        (lane_pb2.CheckInRequest(session_token=pda.token, lane=1), grpc.StatusCode.INVALID_ARGUMENT, "vehicle: missing"),
        (request(lane=9), grpc.StatusCode.NOT_FOUND, "no lane 9"),
        (request(token="forged"), grpc.StatusCode.UNAUTHENTICATED, "sign in again"),
    ]  # fmt: skip
    for message, code, detail in refusals:
        error = await refused(pda.stub.CheckIn(message))
        assert error.code() is code and detail in (error.details() or ""), (code, error.details())
    assert pda.lane.lane.visits() == []  # nothing was opened by a refused check-in

    reply = await pda.stub.CheckIn(request())
    view = pda.lane.lane.visit(reply.record_id)
    assert view.vehicle == vehicle
    assert reply.started_at.ToDatetime(tzinfo=UTC) == view.started_at
    busy = await refused(pda.stub.CheckIn(request()))
    assert busy.code() is grpc.StatusCode.FAILED_PRECONDITION and "lane busy" in (busy.details() or "")
    done = await pda.lane.lane.wait_for(reply.record_id, LaneState.VISUAL)
    assert done.state is LaneState.VISUAL, done.error
    assert len(pda.lane.lane.visits()) == 1


async def test_command_line_check_in_carries_the_whole_vehicle(
    pda: Pda, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(pda_command.TOKEN_VARIABLE, pda.token)
    vehicle = vehicle_with(Fuel.DIESEL, 1)
    pda.lane.benches.next_vehicle(vehicle, seed=1)
    server = pda.cli_server

    with pytest.raises(CommandError, match=r"INVALID_ARGUMENT: vehicle\.vin"):
        bad = pda_command.vehicle_arguments(dataclasses.replace(vehicle, vin=wrong_check_digit(vehicle.vin)))
        await asyncio.to_thread(run_cli, ["check-in", *server, "--lane", "1", *bad])
    status, out = await asyncio.to_thread(
        run_cli, ["check-in", *server, "--lane", "1", *pda_command.vehicle_arguments(vehicle)]
    )
    assert status == 0
    assert pda.lane.lane.visit(out.strip()).vehicle == vehicle  # every field survived flags and protobuf
