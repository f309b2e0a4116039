"""The review queue on SQLite and PostgreSQL: screening queues every flagged record with all its
reasons and samples the rest, per station and day; claims are leases; deadlines escalate; a
rejection revokes the result and calls the hook in its transaction; everything is audited."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, func, select

from hub.anomaly_rules import AnomalyConfig, Rule, StationHours, record_fingerprints
from hub.errors import HubConfigError
from hub.models import RecordRevocation, ReviewCursor
from hub.review_queue import (
    ClaimExpired,
    InvalidDecisionReason,
    NotClaimant,
    ReviewConfig,
    ReviewItemNotFound,
    ReviewQueue,
    Revocation,
)
from hub.review_screening import OWNERS_LOOKED_UP, curve_owners_query, photo_owners_query
from hub.review_states import IllegalReviewTransition, ReviewActor, ReviewState
from hub.store import HubStore
from inspection import Outcome, Verdict, VerdictItem
from inspection.measurements import BrakeCurve, PhotoRef, VisualCheck
from tests.hub.review_support import DAY, Clock, ramp, record, store_records

REVIEWER, SENIOR = ReviewActor.REVIEWER, ReviewActor.SENIOR_REVIEWER
LONG_AGO = DAY - timedelta(hours=1)  # received before the screener's settle time


@pytest.fixture
def store(database_url: str) -> Iterator[HubStore]:
    hub = HubStore(database_url)
    hub.migrate()
    yield hub
    hub.dispose()


def _queue(store: HubStore, clock: Clock, **options: object) -> ReviewQueue:
    config = ReviewConfig(sample_rate=0.0, settle=timedelta(seconds=0), **options)  # type: ignore[arg-type]
    return ReviewQueue(store.database, config, rng=random.Random(7), clock=clock)


def _rules(queue: ReviewQueue) -> dict[str, set[str]]:
    return {item.record_id: {r.rule for r in item.reasons} for item in queue.items("50", limit=1000)}


def test_flags_are_queued_with_every_reason_and_clean_records_are_not(store: HubStore) -> None:
    clock = Clock(DAY + timedelta(hours=1))
    queue = _queue(store, clock)
    slip = record(1)
    slip = replace(
        slip, axles=(replace(slip.axles[0], service=replace(slip.axles[0].service, slip_left=True)),)
    )
    corrected = record(
        2,
        visual_checks=(
            VisualCheck("C01", False, "", "insp-1", DAY),
            VisualCheck("C01", True, "", "insp-1", DAY, correction_reason="misread"),
        ),
        start=DAY + timedelta(minutes=10),
    )
    clean = record(3, start=DAY + timedelta(minutes=20))
    store_records(store, [slip, corrected, clean], LONG_AGO)
    store_records(store, [record(4, start=DAY + timedelta(minutes=30))], LONG_AGO, hub_overall="fail")
    report = queue.screen_all()
    assert (report.screened, report.queued) == (4, 3)
    rules = _rules(queue)
    assert rules == {
        str(slip.record_id): {Rule.WHEEL_SLIP},
        str(corrected.record_id): {Rule.PDA_CORRECTION},
        str(record(4).record_id): {Rule.VERDICT_MISMATCH},
    }
    assert queue.screen_all().screened == 0  # nothing is screened twice
    assert len(store.audit_events(kind="review_queued")) == 3
    assert store.verify_audit_chain().ok


def test_records_compared_with_others_by_index(store: HubStore) -> None:
    clock = Clock(DAY + timedelta(hours=3))
    queue = _queue(store, clock)
    photo = PhotoRef("cd" * 32, "image/jpeg", 1000, "front")
    curve = BrakeCurve(100, ramp(80, 3000), ramp(80, 2900))
    scaled = BrakeCurve(100, ramp(80, 4500), ramp(80, 4350))
    first = record(10, photos=(photo,), curve=curve)
    store_records(store, [first], LONG_AGO)
    queue.screen_all()
    assert _rules(queue) == {}
    copy = record(11, photos=(photo,), curve=scaled, start=DAY + timedelta(minutes=10))
    # The first vehicle again, at another station, while it was still at the first one.
    twice = record(10, "50-0002", start=DAY + timedelta(minutes=4))
    store_records(store, [copy, twice], LONG_AGO)
    queue.screen_all()
    rules = _rules(queue)
    assert rules[str(copy.record_id)] == {Rule.SHARED_PHOTO, Rule.COPIED_CURVE}
    assert rules[str(twice.record_id)] == {Rule.OVERLAPPING_VISIT}


def test_a_shape_many_records_share_looks_up_a_few_owners_not_all(store: HubStore) -> None:
    # One photo and one curve shape on 9 vehicles: each look-up used to return every earlier
    # record (3,500 rows a record after 3,500 records); the rules name three and "others".
    clock = Clock(DAY + timedelta(hours=3))
    queue = _queue(store, clock)
    photo = PhotoRef("ef" * 32, "image/jpeg", 1000, "front")
    curve = BrakeCurve(100, ramp(80, 3000), ramp(80, 2900))
    shared = [
        record(20 + i, photos=(photo,), curve=curve, start=DAY + timedelta(minutes=10 * i)) for i in range(9)
    ]
    store_records(store, shared, LONG_AGO)
    queue.screen_all()
    last = shared[-1]
    fingerprint = record_fingerprints(last, AnomalyConfig())[0][1]
    with store.database.engine.connect() as connection:
        curve_owners = connection.execute(curve_owners_query([fingerprint], last.vehicle.vin)).all()
        photo_owners = connection.execute(photo_owners_query([photo.sha256], last.vehicle.vin)).all()
    assert len(curve_owners) == len(photo_owners) == OWNERS_LOOKED_UP == 4
    reasons = {
        r.rule: r.reason
        for item in queue.items("50", limit=100)
        for r in item.reasons
        if item.record_id == str(last.record_id)
    }
    assert "and others" in reasons[Rule.COPIED_CURVE] and "and others" in reasons[Rule.SHARED_PHOTO]


def test_the_lane_counter_is_followed_across_records(store: HubStore) -> None:
    queue = _queue(store, Clock(DAY + timedelta(hours=3)))
    records = [
        record(i, counter=c, start=DAY + timedelta(minutes=10 * i)) for i, c in enumerate([40, 41, 41, 60])
    ]
    store_records(store, records, LONG_AGO)
    queue.screen_all()
    rules = _rules(queue)
    assert rules == {
        str(records[2].record_id): {Rule.TEST_COUNTER},
        str(records[3].record_id): {Rule.TEST_COUNTER},
    }


def test_rules_read_their_thresholds_from_the_configuration(store: HubStore) -> None:
    early = record(1, start=DAY - timedelta(hours=3))  # 06:00 local
    store_records(store, [early], LONG_AGO)
    strict = _queue(store, Clock(DAY + timedelta(hours=1)), anomaly=AnomalyConfig(min_visit_s=600))
    strict.screen_all()
    assert _rules(strict) == {str(early.record_id): {Rule.OUTSIDE_HOURS, Rule.TOO_FAST}}


def test_every_station_is_sampled_every_day(store: HubStore) -> None:
    clock = Clock(DAY + timedelta(hours=2))
    queue = _queue(store, clock)
    for offset, station in ((0, "50-0001"), (100, "50-0002")):
        store_records(
            store,
            [record(offset + i, station, start=DAY + timedelta(minutes=10 * i)) for i in range(5)],
            LONG_AGO,
        )
    assert queue.screen_all().queued == 0  # sample rate 0, no flags, the day is not over
    clock.now = DAY + timedelta(days=1)
    report = queue.screen()
    assert report.sampled_late == 2
    items = queue.items("50")
    assert sorted(i.station_id for i in items) == ["50-0001", "50-0002"]
    assert all(i.sampled and i.reasons[0].rule == Rule.SAMPLED for i in items)
    assert queue.screen().sampled_late == 0  # once per station-day


def test_random_sample_rate(store: HubStore) -> None:
    queue = ReviewQueue(
        store.database,
        ReviewConfig(sample_rate=0.5, settle=timedelta(0)),
        rng=random.Random(1),
        clock=Clock(DAY + timedelta(hours=20)),
    )
    store_records(store, [record(i, start=DAY + timedelta(minutes=5 * i)) for i in range(40)], LONG_AGO)
    queued = queue.screen_all().queued
    assert 10 <= queued <= 30


def test_the_cursor_waits_for_records_to_settle(store: HubStore) -> None:
    clock = Clock(DAY + timedelta(hours=1))
    queue = ReviewQueue(store.database, ReviewConfig(sample_rate=0, settle=timedelta(minutes=1)), clock=clock)
    store_records(store, [record(1)], DAY + timedelta(minutes=59, seconds=30))
    assert queue.screen().screened == 1
    with store.database.engine.connect() as connection:
        assert connection.execute(select(ReviewCursor.last_seq)).scalar_one() == 0
    clock.now += timedelta(minutes=2)
    assert queue.screen().screened == 0  # above the cursor, but screened: skipped by its row
    store_records(store, [record(2, start=DAY + timedelta(minutes=10))], LONG_AGO)
    assert queue.screen().screened == 1
    with store.database.engine.connect() as connection:
        assert connection.execute(select(ReviewCursor.last_seq)).scalar_one() == 2


def test_a_screening_transaction_ends_after_its_time_budget(store: HubStore) -> None:
    # On SQLite a screening transaction holds the only write lock: a whole batch of full-size
    # records held ingest's commits up for 150-250 ms. With a budget of (almost) nothing each
    # transaction screens one record; the cursor stops before what it left, nothing is lost.
    clock = Clock(DAY + timedelta(hours=1))
    queue = _queue(store, clock, max_hold=timedelta(microseconds=1))
    store_records(store, [record(i, start=DAY + timedelta(minutes=10 * i)) for i in range(4)], LONG_AGO)
    assert [queue.screen().screened for _ in range(5)] == [1, 1, 1, 1, 0]
    with store.database.engine.connect() as connection:
        assert connection.execute(select(ReviewCursor.last_seq)).scalar_one() == 4
    with pytest.raises(HubConfigError, match="max_hold"):
        ReviewConfig(max_hold=timedelta(0))


def _flagged(store: HubStore, queue: ReviewQueue, count: int) -> None:
    store_records(
        store,
        [record(i, start=DAY + timedelta(minutes=10 * i)) for i in range(count)],
        LONG_AGO,
        hub_overall="fail",
    )
    queue.screen_all()


def test_claim_decide_and_revoke(store: HubStore) -> None:
    clock = Clock(DAY + timedelta(hours=5))
    queue = _queue(store, clock)
    seen: list[tuple[Revocation, int]] = []

    def hook(connection: Connection, revocation: Revocation) -> None:
        # Runs in the rejecting transaction: it sees the revocation row before it commits.
        count = connection.execute(select(func.count()).select_from(RecordRevocation)).scalar_one()
        seen.append((revocation, count))

    queue.add_rejection_hook(hook)
    _flagged(store, queue, 2)
    first = queue.claim("alice", REVIEWER, "50")
    second = queue.claim("bob", REVIEWER, "50")
    assert first is not None and second is not None and first.id != second.id
    assert queue.claim("carol", REVIEWER, "50") is None
    assert first.state is ReviewState.CLAIMED and first.claimed_by == "alice"
    with pytest.raises(NotClaimant, match="claimed by alice, not bob"):
        queue.approve(first.id, "bob", REVIEWER, "50", "fine")
    with pytest.raises(InvalidDecisionReason):
        queue.reject(first.id, "alice", REVIEWER, "50", "  ")
    detail = queue.show(first.id, "alice", "50")
    assert detail.record is not None and detail.curves[0].run == "axle 1 service" and not detail.revoked
    rejected = queue.reject(first.id, "alice", REVIEWER, "50", "photos do not show this vehicle")
    assert rejected.state is ReviewState.REJECTED and rejected.decided_by == "alice"
    assert [(r.record_id, r.revoked_by, n) for r, n in seen] == [(first.record_id, "alice", 1)]
    assert queue.show(first.id, "alice", "50").revoked
    assert queue.revoked([first.record_seq]) == {
        first.record_seq: ("alice", "photos do not show this vehicle")
    }
    approved = queue.approve(second.id, "bob", REVIEWER, "50", "checked the curves")
    assert approved.state is ReviewState.APPROVED
    with pytest.raises(IllegalReviewTransition, match="'approved'"):
        queue.reject(second.id, "bob", REVIEWER, "50", "changed my mind")
    stats = queue.stats("50")
    assert stats.by_state == {"rejected": 1, "approved": 1} and stats.revoked == 1
    kinds = [e.kind for e in store.audit_events(limit=20)]
    for kind in ("review_claimed", "review_opened", "review_rejected", "record_revoked", "review_approved"):
        assert kind in kinds
    assert store.verify_audit_chain().ok


def test_leases_expire_and_deadlines_escalate_to_seniors(store: HubStore) -> None:
    clock = Clock(DAY + timedelta(hours=5))
    queue = _queue(store, clock, claim_lease=timedelta(minutes=30), escalate_after=timedelta(hours=48))
    _flagged(store, queue, 2)
    held = queue.claim("alice", REVIEWER, "50")
    assert held is not None
    clock.now += timedelta(minutes=31)
    with pytest.raises(ClaimExpired, match="claim it again"):
        queue.approve(held.id, "alice", REVIEWER, "50", "ok")
    assert queue.sweep() == (1, 0)
    assert {i.state for i in queue.items("50")} == {ReviewState.QUEUED}
    clock.now += timedelta(hours=48)
    assert queue.sweep() == (0, 2)
    assert queue.claim("alice", REVIEWER, "50") is None  # escalated: for seniors only
    senior = queue.claim("sam", SENIOR, "50")
    assert senior is not None and senior.state is ReviewState.ESCALATED_CLAIMED
    with pytest.raises(IllegalReviewTransition, match="only senior-reviewer"):
        queue.approve(senior.id, "sam", REVIEWER, "50", "ok")
    assert queue.approve(senior.id, "sam", SENIOR, "50", "fine").state is ReviewState.APPROVED
    assert [e.kind for e in store.audit_events(kind="review_escalated")] == ["review_escalated"] * 2


def test_a_reviewer_sees_only_their_province(store: HubStore) -> None:
    store.register_station("51-0001", province="51")
    queue = _queue(store, Clock(DAY + timedelta(hours=5)))
    store_records(store, [record(1, "51-0001")], LONG_AGO, hub_overall="fail")
    queue.screen_all()
    [item] = queue.items("51")
    assert queue.items("50") == [] and queue.claim("alice", REVIEWER, "50") is None
    with pytest.raises(ReviewItemNotFound):
        queue.show(item.id, "alice", "50")


def test_two_replicas_claiming_at_once_never_share_an_item(database_url: str) -> None:
    replicas = [HubStore(database_url), HubStore(database_url)]
    replicas[0].migrate()
    clock = Clock(DAY + timedelta(hours=5))
    _flagged(replicas[0], _queue(replicas[0], clock), 60)
    queues = [_queue(replica, clock) for replica in replicas]
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def reviewer(name: str, queue: ReviewQueue) -> None:
        start.wait()
        while (item := queue.claim(name, REVIEWER, "50")) is not None:
            queue.approve(item.id, name, REVIEWER, "50", "ok")
            with lock:
                claimed.append((name, item.id))

    threads = [threading.Thread(target=reviewer, args=(f"r{i}", queues[i % 2])) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [item_id for _, item_id in claimed]
    assert len(ids) == 60 and len(set(ids)) == 60
    if replicas[0].dialect == "postgresql":
        # SKIP LOCKED lets reviewers claim side by side. SQLite's write lock is not fair: a
        # thread that just committed often takes it again first, so one may claim everything.
        assert len({name for name, _ in claimed}) > 1
    assert replicas[0].verify_audit_chain().ok
    for replica in replicas:
        replica.dispose()


def test_hub_records_shows_a_revoked_result(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tongjian.cli import main

    store = HubStore(database_url)
    store.migrate()
    key = Ed25519PrivateKey.generate()
    store.register_station("50-0001", province="50")
    key_id = store.add_station_key("50-0001", key.public_key().public_bytes_raw())
    queue = _queue(store, Clock(DAY + timedelta(hours=5)))
    passed = Verdict((VerdictItem("brake.sum", "GB 7258-2017 7.13", 60.0, 60.0, "%", Outcome.PASS),))
    records = [record(i, start=DAY + timedelta(minutes=10 * i), station_verdict=passed) for i in range(2)]
    store_records(store, records, LONG_AGO, hub_overall="fail", signing=(key_id, key))
    queue.screen_all()
    item = queue.claim("alice", REVIEWER, "50")
    assert item is not None
    queue.reject(item.id, "alice", REVIEWER, "50", "photo of another car")
    store.dispose()
    assert main(["hub", "records", "--format", "json", "--database-url", database_url]) == 0
    rows = {row["record_id"]: row for row in json.loads(capsys.readouterr().out)["records"]}
    assert rows[item.record_id]["revoked"] == "revoked by alice: photo of another car"
    assert [row["revoked"] for rid, row in rows.items() if rid != item.record_id] == [None]
    assert main(["hub", "vehicles", "history", item.vin, "--json", "--database-url", database_url]) == 0
    [inspection] = json.loads(capsys.readouterr().out)["inspections"]
    assert inspection["revoked"] == "by alice: photo of another car" and inspection["verifies"]


def test_a_station_passing_far_more_than_its_peers_has_its_passes_queued(store: HubStore) -> None:
    anomaly = AnomalyConfig(pass_rate_min_inspections=20, pass_rate_max_deviation=0.3)
    queue = _queue(store, Clock(DAY + timedelta(hours=20)), anomaly=anomaly)
    start = DAY - timedelta(minutes=50)
    for i in range(30):  # station 2 passes half; its verdicts agree with the hub's
        outcome = "pass" if i % 2 else "fail"
        store_records(
            store,
            [record(100 + i, "50-0002", start=start + timedelta(minutes=3 * i), minutes=2.5)],
            LONG_AGO,
            hub_overall=outcome,
            station_overall=outcome,
        )
    store_records(
        store,
        [record(i, "50-0001", start=start + timedelta(minutes=3 * i), minutes=2.5) for i in range(30)],
        LONG_AGO,
    )
    queue.screen_all()
    flagged = {
        i.record_id
        for i in queue.items("50", limit=100)
        if Rule.PASS_RATE_OUTLIER in {r.rule for r in i.reasons}
    }
    # Station 1's 21st record onwards: by then it has 20 passes of 20, its peer 15 of 30.
    assert flagged == {str(record(i, "50-0001").record_id) for i in range(20, 30)}


def test_a_failing_rejection_hook_undoes_the_rejection(store: HubStore) -> None:
    queue = _queue(store, Clock(DAY + timedelta(hours=5)))
    _flagged(store, queue, 1)

    def broken(connection: Connection, revocation: Revocation) -> None:
        raise RuntimeError("notification outbox unavailable")

    queue.add_rejection_hook(broken)
    item = queue.claim("alice", REVIEWER, "50")
    assert item is not None
    with pytest.raises(RuntimeError, match="notification outbox"):
        queue.reject(item.id, "alice", REVIEWER, "50", "wrong car")
    [still] = queue.items("50")
    assert still.state is ReviewState.CLAIMED and queue.revoked([item.record_seq]) == {}
    assert store.audit_events(kind="record_revoked") == []


def test_a_rule_that_raises_queues_the_record_and_screening_goes_on(store: HubStore) -> None:
    # Hours given as text slip past the dataclass (text compares with text) and make the hours
    # rule raise: a stand-in for a bug in any rule.
    broken_hours = StationHours("07:00", "20:00")  # type: ignore[arg-type]
    queue = _queue(store, Clock(DAY + timedelta(hours=5)), anomaly=AnomalyConfig(default_hours=broken_hours))
    store_records(store, [record(i, start=DAY + timedelta(minutes=10 * i)) for i in range(2)], LONG_AGO)
    assert queue.screen_all().screened == 2
    reasons = [r.reason for item in queue.items("50") for r in item.reasons]
    assert len(reasons) == 2 and all(
        "the anomaly rules failed on this record: TypeError" in r for r in reasons
    )
