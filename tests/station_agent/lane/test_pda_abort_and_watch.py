"""Abort ends a visit stuck on a bench (bench run cancelled, ABORTED with the reason, nothing signed);
WatchVisit and ``tongjian pda watch`` follow a visit bench by bench until it ends; the CLI says
where the credential comes from and what failed."""

from __future__ import annotations

import asyncio
import contextlib
import io

import grpc
import pytest

from protos.tongjian.v1 import lane_pb2
from simulators.serial_device import Fault, FaultKind
from station_agent.lane import LaneState
from tests.station_agent.lane.pda_rig import Pda, refused, run_cli, visual_record
from tongjian.cli import CommandError
from tongjian.commands import pda as pda_command

ON_THE_WAY = ["checking_in", "brake", "headlight", "emission", "visual"]


def state_name(value: int) -> str:
    return lane_pb2.LaneState.Name(value).removeprefix("LANE_STATE_").lower()


async def test_abort_ends_a_visit_stuck_on_a_bench_and_nothing_is_signed(pda: Pda) -> None:
    silence = Fault(FaultKind.SILENCE)
    pda.lane.benches.hlt.faults.append(silence)  # the headlight tester stops answering
    record_id = str(await pda.lane.check_in("electric"))
    stuck = await pda.lane.lane.wait_for(record_id, LaneState.HEADLIGHT)
    assert stuck.state is LaneState.HEADLIGHT

    reply = await asyncio.wait_for(
        pda.stub.Abort(
            lane_pb2.AbortRequest(session_token=pda.token, record_id=record_id, reason="tester hung")
        ),
        timeout=5,  # far less than the driver's own timeouts and retries would take
    )
    assert reply.state == lane_pb2.LANE_STATE_ABORTED
    assert reply.error == "headlight: aborted by insp-07: tester hung"
    view = pda.lane.lane.visit(record_id)
    assert (view.state, view.error) == (LaneState.ABORTED, reply.error)  # not "internal error"
    assert pda.lane.lane.on_benches is None
    for call in (
        pda.stub.Complete(lane_pb2.CompleteRequest(session_token=pda.token, record_id=record_id)),
        pda.stub.Abort(lane_pb2.AbortRequest(session_token=pda.token, record_id=record_id, reason="again")),
    ):
        assert (await refused(call)).code() is grpc.StatusCode.FAILED_PRECONDITION
    assert pda.lane.completed == []

    # The lane takes the next car at once (its headlight exchange would wait for the silent one's
    # own timeout on the serial line, which no abort can cut short: not awaited here).
    pda.lane.benches.hlt.faults.remove(silence)
    after = await pda.lane.check_in("electric")
    assert (await pda.lane.lane.wait_for(after, LaneState.HEADLIGHT)).state is LaneState.HEADLIGHT


async def test_abort_needs_a_reason_and_ends_a_visit_waiting_for_its_checks(pda: Pda) -> None:
    record_id = await visual_record(pda)
    for reason in ("", "  ", "x" * 501):
        error = await refused(
            pda.stub.Abort(lane_pb2.AbortRequest(session_token=pda.token, record_id=record_id, reason=reason))
        )
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT and "reason" in (error.details() or "")
    assert pda.lane.lane.visit(record_id).state is LaneState.VISUAL
    status, out = await asyncio.to_thread(
        run_cli,
        ["abort", *pda.cli_server, "--token", pda.token, "--record", record_id, "--reason", "drove off"],
    )
    assert status == 0 and out.strip() == f"{record_id}\taborted\tvisual: aborted by insp-07: drove off"
    assert pda.lane.completed == []


async def test_watch_visit_streams_each_state_until_the_visit_ends(pda: Pda) -> None:
    vehicle_record = await pda.lane.check_in("electric")
    record_id = str(vehicle_record)
    stream = pda.stub.WatchVisit(lane_pb2.WatchVisitRequest(session_token=pda.token, record_id=record_id))

    async def collect() -> list[lane_pb2.VisitProgress]:
        return [change async for change in stream]

    watching = asyncio.create_task(collect())
    await pda.lane.lane.wait_for(record_id, LaneState.VISUAL)
    await pda.stub.Complete(lane_pb2.CompleteRequest(session_token=pda.token, record_id=record_id))
    changes = await asyncio.wait_for(watching, timeout=10)
    assert [state_name(c.state) for c in changes] == [*ON_THE_WAY, "completing", "complete"]
    assert all(c.record_id == record_id and not c.error for c in changes)
    times = [c.at.ToDatetime() for c in changes]
    assert times == sorted(times)

    # a watcher that comes late gets the whole history, and the stream ends at once
    late = [
        c
        async for c in pda.stub.WatchVisit(
            lane_pb2.WatchVisitRequest(session_token=pda.token, record_id=record_id)
        )
    ]
    assert [state_name(c.state) for c in late] == [state_name(c.state) for c in changes]


async def test_command_line_watch_follows_the_visit_and_says_how_it_ended(pda: Pda) -> None:
    silence = Fault(FaultKind.SILENCE)
    pda.lane.benches.hlt.faults.append(silence)
    record_id = str(await pda.lane.check_in("electric"))
    watching = asyncio.create_task(
        asyncio.to_thread(run_cli, ["watch", *pda.cli_server, "--token", pda.token, "--record", record_id])
    )
    await pda.lane.lane.wait_for(record_id, LaneState.HEADLIGHT)
    await pda.lane.lane.abort(record_id, "tester hung", by="insp-07")
    status, out = await asyncio.wait_for(watching, timeout=10)
    lines = [line.split("\t") for line in out.splitlines()]
    assert status == 1  # ended aborted
    assert [line[1] for line in lines] == ["checking_in", "brake", "headlight", "aborted"]
    assert lines[-1][2] == "headlight: aborted by insp-07: tester hung"
    pda.lane.benches.hlt.faults.remove(silence)


async def test_command_line_correction_and_complete_prints_the_failing_items(pda: Pda) -> None:
    record_id = await visual_record(pda)
    with_token = [*pda.cli_server, "--token", pda.token, "--record", record_id]
    await asyncio.to_thread(
        run_cli, ["check", *with_token, "--item", "0101=pass", "--item", "0102=fail:worn tyre"]
    )
    with pytest.raises(CommandError, match=r"INVALID_ARGUMENT: .*0101.*needs a reason"):
        await asyncio.to_thread(run_cli, ["check", *with_token, "--item", "0101=fail:cracked lamp"])
    status, out = await asyncio.to_thread(
        run_cli, ["check", *with_token, "--item", "0101=fail:cracked lamp", "--reason", "missed it at first"]
    )
    assert status == 0
    status, out = await asyncio.to_thread(run_cli, ["complete", *with_token])
    first, *failing = out.splitlines()
    assert first == f"{record_id}\tfail"
    assert any(line.split("\t")[:2] == ["  fail", "visual.0102"] and "worn tyre" in line for line in failing)
    assert any(
        "visual.0101" in line and "cracked lamp" in line and "missed it at first" in line for line in failing
    )
    assert not any("visual.0101" in line and "pass" in line.split("\t")[0] for line in failing)
    (record,) = pda.lane.completed
    assert [(c.item_code, c.passed, c.correction_reason) for c in record.visual_checks] == [
        ("0101", True, ""),
        ("0102", False, ""),
        ("0101", False, "missed it at first"),
    ]


def test_sign_in_help_says_where_the_credential_comes_from() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="tongjian")
    pda_command.register(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        parser.parse_args(["pda", "sign-in", "--help"])
    text = " ".join(out.getvalue().split())
    assert pda_command.CREDENTIAL_VARIABLE in text and "stdin" in text


async def test_command_line_needs_a_ca_or_an_explicit_insecure(
    pda: Pda, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(pda_command.CA_VARIABLE, raising=False)
    listing = ["vehicles", "--server", pda.address, "--token", pda.token, "--lane", "1"]
    with pytest.raises(CommandError, match=r"--ca .*TONGJIAN_PDA_CA"):
        await asyncio.to_thread(run_cli, listing)
    monkeypatch.setenv(pda_command.CA_VARIABLE, str(pda.tls.ca_cert))
    status, _ = await asyncio.to_thread(run_cli, listing)
    assert status == 0
    with pytest.raises(CommandError, match="UNAVAILABLE"):  # a TLS server does not speak plaintext
        await asyncio.to_thread(run_cli, [*listing, "--insecure"])
    assert "WARNING: --insecure" in capsys.readouterr().err
