"""The Review service over real mutual TLS: reviewers by certificate (role from the OU, person from
the CN), the province scope, refusals PERMISSION_DENIED and audited with method, role and person;
and ``tongjian review`` driving the same service from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import grpc
import grpc.aio
import pytest

from hub.errors import HubConfigError
from hub.review_queue import ReviewConfig, ReviewQueue
from hub.review_states import ReviewActor
from hub.server import HubConfig, HubServer, HubTls
from pki.authority import Role, init_ca, issue
from protos.tongjian.v1 import review_pb2 as rpb
from protos.tongjian.v1 import review_pb2_grpc
from tests.hub.review_support import DAY, Clock, record, store_records
from tongjian.cli import main as tongjian

PEOPLE = {"alice": Role.REVIEWER, "bob": Role.REVIEWER, "sam": Role.SENIOR_REVIEWER, "50-0001": Role.STATION}


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    init_ca(root / "ca")
    issue(root / "ca", Role.HUB, "hub-50", root / "hub")
    for name, role in PEOPLE.items():
        issue(root / "ca", role, name, root / name)
    return root


def _credentials(root: Path, name: str) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        (root / "ca" / "ca.cert.pem").read_bytes(),
        (root / name / f"{name}.key.pem").read_bytes(),
        (root / name / f"{name}.cert.pem").read_bytes(),
    )


@pytest.fixture
async def hub(pki_dir: Path, database_url: str) -> AsyncIterator[HubServer]:
    tls = HubTls(
        cert_pem=(pki_dir / "hub" / "hub-50.cert.pem").read_bytes(),
        key_pem=(pki_dir / "hub" / "hub-50.key.pem").read_bytes(),
        client_ca_pem=(pki_dir / "ca" / "ca.cert.pem").read_bytes(),
    )
    config = HubConfig(database_url=database_url, tls=tls, insecure_ok=False, province="50")
    async with HubServer(config) as server:
        store = server.store
        store.register_station("50-0001", province="50")
        store.register_station("51-0001", province="51")
        records = [record(i, start=DAY + timedelta(minutes=10 * i)) for i in range(3)]
        store_records(store, records, DAY - timedelta(hours=1), hub_overall="fail")
        store_records(store, [record(9, "51-0001")], DAY - timedelta(hours=1), hub_overall="fail")
        screener = ReviewQueue(
            store.database, ReviewConfig(sample_rate=0, settle=timedelta(0)), clock=Clock(DAY)
        )
        await asyncio.to_thread(screener.screen_all)
        yield server


async def _stub(
    hub: HubServer, pki_dir: Path, name: str
) -> tuple[grpc.aio.Channel, review_pb2_grpc.ReviewStub]:
    channel = grpc.aio.secure_channel(f"localhost:{hub.port}", _credentials(pki_dir, name))
    return channel, review_pb2_grpc.ReviewStub(channel)


async def test_reviewers_claim_show_and_decide(hub: HubServer, pki_dir: Path) -> None:
    channel, alice = await _stub(hub, pki_dir, "alice")
    async with channel:
        listed = await alice.ListQueue(rpb.ListQueueRequest())
        assert len(listed.items) == 3  # the 51 station's item is out of scope
        assert {r.rule for i in listed.items for r in i.reasons} == {"verdict_mismatch"}
        claimed = await alice.Claim(rpb.ClaimRequest())
        assert claimed.found and claimed.item.claimed_by == "alice"
        shown = await alice.Show(rpb.ShowRequest(id=claimed.item.id))
        assert shown.record.record_id == claimed.item.record_id
        assert shown.hub_overall == "fail" and shown.curves[0].run == "axle 1 service"
        assert len(shown.hub_verdict.items) > 0
        with pytest.raises(grpc.aio.AioRpcError) as missing_reason:
            await alice.Decide(rpb.DecideRequest(id=claimed.item.id, decision=rpb.REVIEW_DECISION_REJECT))
        assert missing_reason.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        rejected = await alice.Decide(
            rpb.DecideRequest(id=claimed.item.id, decision=rpb.REVIEW_DECISION_REJECT, reason="not this car")
        )
        assert rejected.state == rpb.REVIEW_ITEM_STATE_REJECTED and rejected.decided_by == "alice"
        assert (await alice.Show(rpb.ShowRequest(id=claimed.item.id))).revoked
        stats = await alice.Stats(rpb.StatsRequest())
        assert stats.by_state["rejected"] == 1 and stats.revoked == 1
        foreign = [i for i in hub.store.audit_events(kind="review_queued") if i.station_id == "51-0001"]
        assert foreign  # queued, but never shown to a reviewer of province 50
    opened = [e for e in hub.store.audit_events(kind="review_opened") if "alice" in e.detail]
    assert len(opened) == 2


async def test_another_province_is_out_of_scope(hub: HubServer, pki_dir: Path) -> None:
    foreign = ReviewQueue(hub.store.database).items("51")
    channel, alice = await _stub(hub, pki_dir, "alice")
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await alice.Show(rpb.ShowRequest(id=foreign[0].id))
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND


async def test_refusals_are_denied_and_audited(hub: HubServer, pki_dir: Path) -> None:
    channel, station = await _stub(hub, pki_dir, "50-0001")
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await station.ListQueue(rpb.ListQueueRequest())
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED
    [refused] = hub.store.audit_events(kind="access_refused")
    assert "/tongjian.v1.Review/ListQueue" in refused.detail
    assert "50-0001" in refused.detail and "role station" in refused.detail

    # A reviewer trying what only a senior reviewer may: the role refuses inside the service.
    queue = ReviewQueue(hub.store.database)
    item = queue.claim("bob", ReviewActor.REVIEWER, "50")
    assert item is not None
    queue.escalate(item.id, "bob", ReviewActor.REVIEWER, "50", "a senior should look")
    channel, sam = await _stub(hub, pki_dir, "sam")
    async with channel:
        held = await sam.Claim(rpb.ClaimRequest())
        assert held.item.id == item.id and held.item.state == rpb.REVIEW_ITEM_STATE_ESCALATED_CLAIMED
    channel, alice = await _stub(hub, pki_dir, "alice")
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await alice.Decide(
                rpb.DecideRequest(id=item.id, decision=rpb.REVIEW_DECISION_APPROVE, reason="ok")
            )
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED
    refusals = hub.store.audit_events(kind="access_refused")
    assert len(refusals) == 2 and "alice" in refusals[0].detail and "role reviewer" in refusals[0].detail
    assert hub.store.verify_audit_chain().ok


async def test_the_cli_reviews_over_grpc(
    hub: HubServer, pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*argv: str) -> int:
        common = [
            "review",
            "--hub",
            f"localhost:{hub.port}",
            "--ca",
            str(pki_dir / "ca" / "ca.cert.pem"),
            "--cert",
            str(pki_dir / "bob" / "bob.cert.pem"),
            "--key",
            str(pki_dir / "bob" / "bob.key.pem"),
        ]
        return tongjian([*common, *argv])

    assert await asyncio.to_thread(run, "queue") == 0
    assert "3 item(s)" in capsys.readouterr().out
    assert await asyncio.to_thread(run, "claim") == 0
    item_id = int(capsys.readouterr().out.split()[0])
    assert await asyncio.to_thread(run, "show", str(item_id)) == 0
    shown = capsys.readouterr().out
    assert "verdict_mismatch: the station's verdict is pass, the hub's fail" in shown
    assert "curve axle 1 service" in shown
    assert await asyncio.to_thread(run, "approve", str(item_id), "--reason", "curves fine") == 0
    assert "approved" in capsys.readouterr().out
    assert await asyncio.to_thread(run, "approve", str(item_id), "--reason", "again") == 2
    assert "FAILED_PRECONDITION" in capsys.readouterr().err
    assert await asyncio.to_thread(run, "stats") == 0
    assert "approved           1" in capsys.readouterr().out
    assert await asyncio.to_thread(run, "show", "999999") == 2
    assert "NOT_FOUND" in capsys.readouterr().err


async def test_the_hub_screens_by_itself(database_url: str) -> None:
    config = HubConfig(
        database_url=database_url,
        review=ReviewConfig(sample_rate=0, settle=timedelta(0)),
        review_screen_interval_s=0.05,
    )
    async with HubServer(config) as server:
        store_records(server.store, [record(1)], DAY, hub_overall="fail")
        for _ in range(200):
            if server.review.items("50"):
                break
            await asyncio.sleep(0.02)
        [item] = server.review.items("50")
        assert [r.rule for r in item.reasons] == ["verdict_mismatch"]
    with pytest.raises(HubConfigError, match="review_screen_interval_s"):
        HubServer(replace(config, review_screen_interval_s=0))


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--review-sample", "2", "--review-sample must be 0..1"),
        ("--review-interval", "-1", "must not be negative"),
    ],
)
def test_hub_serve_refuses_bad_review_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert (
        tongjian(
            ["hub", "serve", "--insecure", "--listen", "127.0.0.1:0", "--database-url", url, flag, value]
        )
        == 2
    )
    assert message in capsys.readouterr().err


def test_the_cli_names_a_missing_certificate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nobody.cert.pem"
    argv = [
        "review",
        "--hub",
        "127.0.0.1:1",
        "--ca",
        str(missing),
        "--cert",
        str(missing),
        "--key",
        str(missing),
    ]
    assert tongjian([*argv, "queue"]) == 2
    assert f"--ca {missing}: no such file" in capsys.readouterr().err
