"""A PDA check-in says why the vehicle is inspected and whether it is laden; both reach the record
and the rules. An unknown purpose is INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import grpc

from inspection import Fuel
from inspection.record import InspectionPurpose
from protos.record_mapping import vehicle_to_proto
from protos.tongjian.v1 import inspection_pb2, lane_pb2
from station_agent.lane import LaneState
from tests.station_agent.lane.lane_rig import vehicle_with
from tests.station_agent.lane.pda_rig import Pda, refused


async def test_purpose_and_laden_reach_the_record(pda: Pda) -> None:
    vehicle = vehicle_with(Fuel.ELECTRIC)
    pda.lane.benches.next_vehicle(vehicle, seed=3)
    reply = await pda.stub.CheckIn(
        lane_pb2.CheckInRequest(
            session_token=pda.token,
            lane=1,
            vehicle=vehicle_to_proto(vehicle),
            purpose=inspection_pb2.INSPECTION_PURPOSE_REGISTRATION,
            laden=True,
        )
    )
    view = await pda.lane.lane.wait_for(reply.record_id, LaneState.VISUAL)
    assert view.state is LaneState.VISUAL, view.error
    record = await pda.lane.lane.complete(reply.record_id)
    assert (record.purpose, record.laden) == (InspectionPurpose.REGISTRATION, True)
    whole = next(i for i in record.station_verdict.items if i.code == "brake.service.vehicle.rate.min")
    assert whole.limit in (50.0, 45.0)  # the laden limits


async def test_an_unknown_purpose_is_refused_by_name(pda: Pda) -> None:
    vehicle = vehicle_with(Fuel.ELECTRIC)
    error = await refused(
        pda.stub.CheckIn(
            lane_pb2.CheckInRequest(
                session_token=pda.token, lane=1, vehicle=vehicle_to_proto(vehicle), purpose=9
            )  # type: ignore[arg-type]
        )
    )
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT and "purpose" in (error.details() or "")
