"""An exemption applied for in another province, between two real hubs: the Sichuan (51) hub
asks the Chongqing (50) hub for a Chongqing car's facts, decides, signs, and Chongqing records the
label once, however often and wherever the owner applies; the label verifies offline against
the keys of the national trust list, and revoking it at the issuer reaches the verifier."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import grpc
import grpc.aio
import pytest

from elabel.errors import LabelFault
from elabel.revocation import read_revocation_list
from elabel.trust_cache import HubKey, TrustCache
from elabel.verifier import check_label
from hub.vehicle_standing import Standing, StandingBook
from inspection import Fuel, Vehicle, VehicleClass, VehicleUse
from inspection.vehicle_register_csv import RegisterRow
from protos.tongjian.v1 import labels_pb2, labels_pb2_grpc
from tests.federation_rig import National, ProvinceHub

pytestmark = pytest.mark.asyncio
VIN = "LFV2A21KXNA000017"
CAR = Vehicle(
    VIN,
    "渝A00017",
    "50",
    VehicleClass.M1,
    Fuel.PETROL,
    5,
    VehicleUse.NON_OPERATING,
    date(2023, 3, 15),
    1350,
    1800,
    2,
)
APPLICATION = labels_pb2.ExemptionApplication(vin=VIN, plate="渝A00017", application_date="2025-02-01")
CHECKED_AT = datetime(2026, 1, 1, tzinfo=UTC)


@dataclasses.dataclass
class Pair:
    national: National
    sichuan: ProvinceHub  # serves the application
    chongqing: ProvinceHub  # registers the car


@pytest.fixture
async def pair(databases: Any) -> AsyncIterator[Pair]:
    national = National()
    sichuan = ProvinceHub("51", databases.new("sichuan"), national.public)
    chongqing = ProvinceHub("50", databases.new("chongqing"), national.public)
    await chongqing.start()
    await sichuan.start()
    try:
        national.publish([sichuan, chongqing])
        chongqing.hub.store.vehicles.import_rows([RegisterRow(2, CAR, "owner-17")], "50")
        StandingBook(chongqing.hub.store.database).set(VIN, Standing(date(2025, 12, 31), True, 0, 0, False))
        yield Pair(national, sichuan, chongqing)
    finally:
        await sichuan.stop()
        await chongqing.stop()


async def apply_at(
    hub: ProvinceHub, application: labels_pb2.ExemptionApplication = APPLICATION
) -> labels_pb2.ExemptionReply:
    async with grpc.aio.insecure_channel(hub.endpoint) as channel:
        return await labels_pb2_grpc.LabelsStub(channel).ApplyExemption(application, timeout=10)


async def label_keys(hub: ProvinceHub) -> TrustCache:
    async with grpc.aio.insecure_channel(hub.endpoint) as channel:
        keys = await labels_pb2_grpc.LabelsStub(channel).GetLabelKeys(
            labels_pb2.LabelKeysRequest(), timeout=10
        )
    return TrustCache(tuple(HubKey(k.province, k.public_key) for k in keys.keys))


async def test_applied_in_sichuan_decided_on_chongqings_facts_recorded_once(pair: Pair) -> None:
    reply = await apply_at(pair.sichuan)
    assert reply.granted and reply.issuer_province == "51" and reply.serial.startswith("51-E-")
    assert (reply.valid_from, reply.valid_until) == ("2025-02-01", "2027-03-15")

    recorded = pair.chongqing.hub.labels.by_vin(VIN)  # type: ignore[union-attr]
    assert [label.token for label in recorded] == [reply.token]
    assert (await apply_at(pair.sichuan)).token == reply.token  # applied again: the same label
    at_home = await apply_at(pair.chongqing)  # and at the registration hub itself
    assert at_home.granted and at_home.token == reply.token and at_home.issuer_province == "51"
    assert len(pair.chongqing.hub.labels.by_vin(VIN)) == 1  # type: ignore[union-attr]

    # Either hub hands out every province's label key (from the trust list): it verifies offline.
    cache = await label_keys(pair.chongqing)
    assert {k.province for k in cache.hub_keys} == {"50", "51"}
    assert check_label(reply.token, cache, CHECKED_AT, vin=VIN).valid


async def test_a_refusal_names_the_registration_hubs_facts(pair: Pair) -> None:
    StandingBook(pair.chongqing.hub.store.database).set(VIN, Standing(None, True, 2, 0, False))
    reply = await apply_at(pair.sichuan)
    assert not reply.granted and list(reply.refusal_reasons) == [
        "insurance_not_valid",
        "unresolved_violations",
    ]
    assert pair.chongqing.hub.labels.by_vin(VIN) == []  # type: ignore[union-attr]


async def test_revoked_at_the_issuer_and_seen_offline(pair: Pair) -> None:
    reply = await apply_at(pair.sichuan)
    pair.sichuan.hub.labels.revoke_label(reply.serial, "granted on a wrong insurance record")  # type: ignore[union-attr]
    async with grpc.aio.insecure_channel(pair.sichuan.endpoint) as channel:
        listing = await labels_pb2_grpc.LabelsStub(channel).GetRevocationList(
            labels_pb2.RevocationListRequest()
        )
    cache = await label_keys(pair.sichuan)
    (sichuan_key,) = [k for k in cache.hub_keys if k.province == "51"]
    assert [
        r.serial for r in read_revocation_list(listing.cose, "51", sichuan_key.public_key).revocations
    ] == [reply.serial]
    cache = dataclasses.replace(cache, signed_revocation_lists={"51": listing.cose})
    assert check_label(reply.token, cache, CHECKED_AT).faults == (LabelFault.REVOKED,)


async def test_with_the_registration_hub_down_nothing_is_issued_and_a_retry_succeeds(pair: Pair) -> None:
    await pair.chongqing.stop()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await apply_at(pair.sichuan)
    assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert pair.sichuan.hub.labels.by_vin(VIN) == []  # type: ignore[union-attr]
    await pair.chongqing.start()
    # The owner tries again; gRPC may still be backing off from the refused connection.
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        try:
            reply = await apply_at(pair.sichuan)
            break
        except grpc.aio.AioRpcError as error:
            if (
                error.code() is not grpc.StatusCode.UNAVAILABLE
                or asyncio.get_running_loop().time() > deadline
            ):
                raise
            await asyncio.sleep(0.2)
    assert reply.granted and [l.token for l in pair.chongqing.hub.labels.by_vin(VIN)] == [reply.token]  # type: ignore[union-attr]  # noqa: E741


async def test_a_province_outside_the_trust_list_is_unavailable(pair: Pair) -> None:
    with pytest.raises(grpc.aio.AioRpcError, match="province 44"):
        await apply_at(pair.sichuan, labels_pb2.ExemptionApplication(vin=VIN, plate="粤A00017"))


async def test_a_federated_hub_signs_labels_with_its_hub_key_only(pair: Pair) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from elabel.keys import raw_public_key
    from hub.errors import HubConfigError
    from hub.server import HubServer

    config = dataclasses.replace(pair.sichuan.config(), label_key=Ed25519PrivateKey.generate())
    with pytest.raises(HubConfigError, match="hub_key"):
        HubServer(config)
    assert pair.sichuan.hub.labels is not None
    assert pair.sichuan.hub.labels.key.public_key == raw_public_key(pair.sichuan.hub_key.public_key())
