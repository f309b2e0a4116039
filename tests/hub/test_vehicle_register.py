"""The province's vehicle register on SQLite and PostgreSQL: import, look-ups, status compare-and-set,
and a vehicle's local inspection history."""

from __future__ import annotations

import dataclasses
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from hub.envelope_check import EnvelopeLimits, verify_envelope
from hub.errors import UnknownVehicle, VehicleStatusConflict
from hub.records import record_row
from hub.store import HubStore
from hub.vehicle_history import local_history, merge_histories
from hub.vehicle_register import BATCH_ROWS, ImportReport, VehicleStatus
from inspection import Vehicle
from inspection.vehicle_register_csv import RegisterRow, RegisterRowError, read_register, write_register
from simulators.fleet import generate_fleet, owner_reference

AS_OF = date(2026, 11, 1)


@pytest.fixture
def store(database_url: str) -> Iterator[HubStore]:
    hub_store = HubStore(database_url)
    hub_store.migrate()
    yield hub_store
    hub_store.dispose()


def _register_csv(fleet: list[Vehicle], seed: int = 0) -> str:
    stream = io.StringIO(newline="")
    write_register(stream, [(vehicle, owner_reference(seed, i)) for i, vehicle in enumerate(fleet)])
    return stream.getvalue()


def _rows(text: str) -> Iterator[RegisterRow | RegisterRowError]:
    return read_register(io.StringIO(text, newline=""))


def test_import_inserts_then_counts_unchanged_and_updated_rows(store: HubStore) -> None:
    fleet = generate_fleet(30, seed=1, as_of=AS_OF, province="50")
    report = store.vehicles.import_rows(_rows(_register_csv(fleet)), "50")
    assert (report.inserted, report.updated, report.unchanged, report.other_province, report.bad) == (
        30,
        0,
        0,
        0,
        0,
    )
    assert store.vehicles.count() == 30
    again = store.vehicles.import_rows(_rows(_register_csv(fleet)), "50")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 30)
    changed = [dataclasses.replace(fleet[0], seats=fleet[0].seats + 1), *fleet[1:]]
    third = store.vehicles.import_rows(_rows(_register_csv(changed)), "50")
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 29)
    stored = store.vehicles.get(fleet[0].vin)
    assert stored is not None
    assert stored.vehicle == changed[0]
    assert stored.owner_ref == owner_reference(0, 0)
    assert stored.status is VehicleStatus.ACTIVE


def test_every_vehicle_field_reads_back_from_the_register(store: HubStore) -> None:
    fleet = generate_fleet(200, seed=5, as_of=AS_OF, province="51")
    store.vehicles.import_rows(_rows(_register_csv(fleet, seed=5)), "51")
    for index, vehicle in enumerate(fleet):
        stored = store.vehicles.get(vehicle.vin)
        assert stored is not None and stored.vehicle == vehicle
        assert stored.owner_ref == owner_reference(5, index)
    assert {v.vehicle.vin for v in store.vehicles.find_by_plate(fleet[3].plate)} >= {fleet[3].vin}
    assert store.vehicles.find_by_plate(fleet[3].plate.lower())  # plates are matched normalised
    assert store.vehicles.get(fleet[3].vin.lower()) is not None


def test_other_provinces_are_skipped_and_bad_rows_named_without_undoing_the_rest(store: HubStore) -> None:
    ours = generate_fleet(BATCH_ROWS + 10, seed=2, as_of=AS_OF, province="50")
    theirs = generate_fleet(5, seed=3, as_of=AS_OF, province="51")
    lines = _register_csv([*ours[:600], *theirs, *ours[600:]]).splitlines()
    lines[3] = lines[3].replace(",M1,", ",M9,").replace(",N1,", ",M9,").replace(",M2,", ",M9,")
    lines[3] = lines[3].replace(",M3,", ",M9,").replace(",N2,", ",M9,").replace(",N3,", ",M9,")
    lines[900] = lines[900] + ",surplus"
    progress: list[ImportReport] = []
    report = store.vehicles.import_rows(
        _rows("\n".join(lines) + "\n"), "50", progress=lambda r: progress.append(dataclasses.replace(r))
    )
    assert report.bad == 2 and report.other_province == 5
    assert report.inserted == len(ours) - 2
    assert [(bad.line, "vehicle_class" in bad.reason) for bad in report.bad_rows] == [(4, True), (901, False)]
    assert store.vehicles.count() == len(ours) - 2
    # Line 4 is ours[2]; line 901 is ours[894] (the header, then 600 of ours and 5 of theirs before it).
    assert [i for i, v in enumerate(ours) if not store.vehicles.knows(v.vin)] == [2, 894]
    assert store.vehicles.known([ours[1].vin, ours[2].vin, theirs[0].vin]) == {ours[1].vin}
    assert len(progress) == 2 and progress[0].rows == BATCH_ROWS and progress[-1].rows == report.rows


def test_a_vin_twice_in_one_file_takes_the_later_row(store: HubStore) -> None:
    (car,) = generate_fleet(1, seed=4, as_of=AS_OF, province="50")
    later = dataclasses.replace(car, seats=car.seats + 2)
    report = store.vehicles.import_rows(_rows(_register_csv([car, later])), "50")
    assert (report.inserted, report.updated) == (1, 1)
    stored = store.vehicles.get(car.vin)
    assert stored is not None and stored.vehicle == later


def test_status_is_compare_and_set_and_import_leaves_it_alone(store: HubStore) -> None:
    fleet = generate_fleet(3, seed=6, as_of=AS_OF, province="50")
    store.vehicles.import_rows(_rows(_register_csv(fleet)), "50")
    vin = fleet[0].vin
    store.vehicles.set_status(vin, VehicleStatus.TRANSFERRING, expected=VehicleStatus.ACTIVE)
    with pytest.raises(VehicleStatusConflict, match="status is transferring, not active") as conflict:
        store.vehicles.set_status(vin, VehicleStatus.TRANSFERRING, expected=VehicleStatus.ACTIVE)
    assert conflict.value.actual == "transferring"
    with pytest.raises(UnknownVehicle):
        store.vehicles.set_status("LSVAU218XN2183294", VehicleStatus.ACTIVE, expected=VehicleStatus.ACTIVE)
    changed = [dataclasses.replace(fleet[0], seats=fleet[0].seats + 1), *fleet[1:]]
    store.vehicles.import_rows(_rows(_register_csv(changed)), "50")
    stored = store.vehicles.get(vin)
    assert stored is not None and stored.status is VehicleStatus.TRANSFERRING and stored.vehicle == changed[0]
    store.vehicles.set_status(vin, VehicleStatus.TRANSFERRED_OUT, expected=VehicleStatus.TRANSFERRING)
    assert store.vehicles.count(VehicleStatus.TRANSFERRED_OUT) == 1
    assert store.vehicles.knows(vin)  # a vehicle that left stays known, for its history


def test_two_racing_compare_and_sets_one_wins(store: HubStore, database_url: str) -> None:
    fleet = generate_fleet(1, seed=7, as_of=AS_OF, province="50")
    store.vehicles.import_rows(_rows(_register_csv(fleet)), "50")
    other = HubStore(database_url)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def move(hub: HubStore) -> None:
        barrier.wait()
        try:
            hub.vehicles.set_status(fleet[0].vin, VehicleStatus.TRANSFERRING, expected=VehicleStatus.ACTIVE)
            outcomes.append("moved")
        except VehicleStatusConflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=move, args=(hub,)) for hub in (store, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert sorted(outcomes) == ["moved", "refused"]


def test_twenty_thousand_rows_import_in_batches(store: HubStore, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = generate_fleet(20_000, seed=8, as_of=AS_OF, province="50")
    text = _register_csv(fleet)
    started = time.perf_counter()
    report = store.vehicles.import_rows(_rows(text), "50")
    elapsed = time.perf_counter() - started
    assert report.inserted + report.updated == 20_000 and report.bad == 0
    assert store.vehicles.count() == len({v.vin for v in fleet})
    started = time.perf_counter()
    for vehicle in fleet[:1000]:
        assert store.vehicles.knows(vehicle.vin)
    knows_us = (time.perf_counter() - started) / 1000 * 1e6
    with capsys.disabled():
        print(
            f"\n[{store.dialect}] 20,000-row register import {elapsed:.2f} s = {20_000 / elapsed:,.0f} rows/s; "
            f"knows() {knows_us:.0f} us"
        )


def test_two_replicas_importing_the_same_file_at_once_end_with_one_row_each(
    store: HubStore, database_url: str
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("replicas share PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE")
    fleet = generate_fleet(3000, seed=9, as_of=AS_OF, province="50")
    changed = [dataclasses.replace(v, seats=v.seats + 1) if i % 2 else v for i, v in enumerate(fleet)]
    texts = (_register_csv(fleet), _register_csv(changed))
    other = HubStore(database_url)
    reports: list[ImportReport] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(hub: HubStore, text: str) -> None:
        barrier.wait()
        try:
            reports.append(hub.vehicles.import_rows(_rows(text), "50"))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=pair) for pair in zip((store, other), texts, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert errors == []
    assert store.vehicles.count() == 3000
    assert sum(r.inserted for r in reports) == 3000  # each VIN inserted by exactly one replica
    for index in range(0, 3000, 97):
        stored = store.vehicles.get(fleet[index].vin)
        assert stored is not None and stored.vehicle in (fleet[index], changed[index])


def test_local_history_lists_each_inspection_oldest_first_and_whether_it_verifies(
    store: HubStore, make_record, signer, station_key
) -> None:  # type: ignore[no-untyped-def]
    store.register_station(station_key.station_id, province="51")
    store.add_station_key(station_key.station_id, station_key.public_path.read_bytes())
    keys = store.known_keys()
    first, second = make_record(3), make_record(1)
    second = dataclasses.replace(second, vehicle=first.vehicle)  # the same car, inspected earlier
    received = datetime.now(UTC)
    rows = []
    for record in (first, second, make_record(2)):
        verified = verify_envelope(signer.seal(record), keys, EnvelopeLimits(), received)
        rows.append(record_row(verified, received, None))
    store.commit_batch(rows)
    history = local_history(store, first.vehicle.vin.lower(), hub_province="50")
    assert [entry.record_id for entry in history] == [str(second.record_id), str(first.record_id)]
    assert all(e.verifies and e.problem is None and e.inspected_in == "51" for e in history)
    assert {e.origin for e in history} == {"local"}
    assert merge_histories(history[1:], history[:1]) == history
    with store.database.write() as session:
        session.execute(
            text("UPDATE records SET plate = '渝Z99999' WHERE record_id = :r"), {"r": str(first.record_id)}
        )
    tampered = local_history(store, first.vehicle.vin, hub_province="50")
    assert [e.verifies for e in tampered] == [True, False]
    assert tampered[1].problem and "plate" in tampered[1].problem
    assert local_history(store, "LSVAU218XN2183294", hub_province="50") == []
