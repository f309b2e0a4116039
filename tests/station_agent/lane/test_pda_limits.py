"""The PDA service refuses what the hub would refuse (inspection.record_limits), naming the limit,
and a refused call leaves nothing half-saved. Before this, a lane took 13 axles, 350 check items
and 33 photos, signed the record, and the hub rejected it for ever."""

from __future__ import annotations

import dataclasses

import grpc

from inspection import Fuel
from inspection.record_limits import MAX_COUNT, Part
from protos.record_mapping import vehicle_to_proto
from protos.tongjian.v1 import lane_pb2
from tests.station_agent.lane.lane_rig import jpeg, vehicle_with
from tests.station_agent.lane.pda_rig import (
    Pda,
    items,
    refused,
    stored_files,
    upload,
    visual_record,
)


async def test_check_in_refuses_a_vehicle_beyond_the_table(pda: Pda) -> None:
    vehicle = dataclasses.replace(vehicle_with(Fuel.ELECTRIC, 0), axle_count=13)
    error = await refused(
        pda.stub.CheckIn(
            lane_pb2.CheckInRequest(session_token=pda.token, lane=1, vehicle=vehicle_to_proto(vehicle))
        )
    )
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "vehicle.axle_count" in (error.details() or "") and "1..12" in (error.details() or "")
    assert pda.lane.lane.visits() == []


async def test_submit_checks_refuses_beyond_the_entry_limit_whole(pda: Pda) -> None:
    record_id = await visual_record(pda)
    limit = MAX_COUNT[Part.VISUAL_CHECKS]
    first = [f"A{i:03d}" for i in range(limit - 10)]
    await pda.stub.SubmitChecks(
        lane_pb2.SubmitChecksRequest(session_token=pda.token, record_id=record_id, items=items(*first))
    )
    # 20 more would make limit + 10: refused whole, naming the limit; the 10 that fit are not kept
    error = await refused(
        pda.stub.SubmitChecks(
            lane_pb2.SubmitChecksRequest(
                session_token=pda.token, record_id=record_id, items=items(*(f"B{i:03d}" for i in range(20)))
            )
        )
    )
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"at most {limit}" in (error.details() or "") and "visual_checks" in (error.details() or "")
    assert len(pda.lane.lane.visit(record_id).checked_items) == limit - 10


async def test_upload_photo_refuses_beyond_the_photo_limit_and_stores_nothing(pda: Pda) -> None:
    record_id = await visual_record(pda)
    limit = MAX_COUNT[Part.PHOTOS]
    for i in range(limit):
        await upload(pda, record_id, jpeg(b"photo %d" % i), item="0101")
    files = stored_files(pda)
    error = await refused(upload(pda, record_id, jpeg(b"one too many"), item="0101"))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"at most {limit}" in (error.details() or "") and "photos" in (error.details() or "")
    assert stored_files(pda) == files
    assert pda.lane.lane.visit(record_id).photo_count == limit


async def test_a_completed_record_within_the_limits_passes_the_hubs_check(pda: Pda) -> None:
    from inspection.record_limits import check_record

    record_id = await visual_record(pda)
    await pda.stub.SubmitChecks(
        lane_pb2.SubmitChecksRequest(session_token=pda.token, record_id=record_id, items=items("0101"))
    )
    await pda.stub.Complete(lane_pb2.CompleteRequest(session_token=pda.token, record_id=record_id))
    (record,) = pda.lane.completed
    check_record(record)
