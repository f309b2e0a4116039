"""``Labels``: the hub label keys and this hub's signed revocation list, for offline verifiers
(``tongjian label sync``), and ``ApplyExemption`` (hub.exemption).

Which hub holds the vehicle's facts follows from the plate's first character (its registration
province): this hub's own store, or the registration hub through ``peer_registration`` (the
federation link). Without a link to that province the application is refused UNAVAILABLE,
naming the province.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

import grpc
import grpc.aio
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import HubError, UnknownVehicle
from hub.exemption import ExemptionDesk, RegistrationHub
from hub.label_book import LabelBook
from inspection.identifiers import InvalidIdentifier, province_code_of_plate, validate_vin
from protos.tongjian.v1 import labels_pb2, labels_pb2_grpc

SERVICE_NAME = labels_pb2.DESCRIPTOR.services_by_name["Labels"].full_name


# Where the facts of a vehicle registered in a province live: None when this hub has no link there.
RegistrationResolver = Callable[[str], RegistrationHub | None]


class LabelService(labels_pb2_grpc.LabelsServicer):
    def __init__(
        self,
        book: LabelBook,
        peer_keys: Callable[[], list[tuple[str, bytes]]],
        registration: RegistrationResolver,
        trust_list: Callable[[], bytes | None] = lambda: None,
    ) -> None:
        self._book = book
        self._peer_keys = peer_keys
        self._registration = registration
        self._trust_list = trust_list  # the signed national trust list, serialized (federation)
        self._desk = ExemptionDesk(book)

    async def GetLabelKeys(  # the generated servicer's method name
        self,
        request: labels_pb2.LabelKeysRequest,
        context: grpc.aio.ServicerContext[labels_pb2.LabelKeysRequest, labels_pb2.LabelKeys],
    ) -> labels_pb2.LabelKeys:
        own = self._book.key
        keys = [labels_pb2.LabelKey(province=own.province, public_key=own.public_key)]
        for province, public_key in self._peer_keys():
            if public_key != own.public_key:
                keys.append(labels_pb2.LabelKey(province=province, public_key=public_key))
        trust_list = await asyncio.to_thread(self._trust_list)
        return labels_pb2.LabelKeys(keys=keys, trust_list=trust_list or b"")

    async def GetRevocationList(
        self,
        request: labels_pb2.RevocationListRequest,
        context: grpc.aio.ServicerContext[labels_pb2.RevocationListRequest, labels_pb2.SignedRevocationList],
    ) -> labels_pb2.SignedRevocationList:
        try:
            cose = await asyncio.to_thread(self._book.signed_revocation_list)
        except SQLAlchemyError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub cannot reach its database; retry")
        return labels_pb2.SignedRevocationList(province=self._book.key.province, cose=cose)

    async def ApplyExemption(
        self,
        request: labels_pb2.ExemptionApplication,
        context: grpc.aio.ServicerContext[labels_pb2.ExemptionApplication, labels_pb2.ExemptionReply],
    ) -> labels_pb2.ExemptionReply:
        try:
            vin = validate_vin(request.vin.strip().upper())
            province = province_code_of_plate(request.plate.strip())
        except InvalidIdentifier as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        day = None
        if request.application_date:
            try:
                day = date.fromisoformat(request.application_date)
            except ValueError:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"application_date {request.application_date!r} is not YYYY-MM-DD",
                )
        registration = await asyncio.to_thread(self._registration, province)
        if registration is None:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, f"this hub has no link to the hub of province {province}"
            )
        try:
            outcome = await self._desk.apply(vin, registration, day)
        except UnknownVehicle as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except grpc.aio.AioRpcError as error:  # the registration hub, over the federation link
            if error.code() is grpc.StatusCode.NOT_FOUND:
                await context.abort(grpc.StatusCode.NOT_FOUND, error.details() or "vehicle not registered")
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"the hub of province {province} answered {error.code().name}: {error.details()}; nothing was issued",
            )
        except (HubError, SQLAlchemyError) as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"the application could not be decided: {error}")
        decision = outcome.decision
        reply = labels_pb2.ExemptionReply(
            granted=decision.granted,
            refusal_reasons=[reason.value for reason in decision.reasons],
            regime=decision.regime.value,
        )
        if outcome.label is not None:
            claims = outcome.label.claims
            reply.token = outcome.label.token
            reply.serial = claims.serial
            reply.valid_from = claims.valid_from.isoformat()
            reply.valid_until = claims.valid_until.isoformat()
            reply.issuer_province = claims.issuer_province
        return reply


def register_label_service(
    server: grpc.aio.Server,
    book: LabelBook,
    registration: RegistrationResolver,
    peer_keys: Callable[[], list[tuple[str, bytes]]] = list,
    trust_list: Callable[[], bytes | None] = lambda: None,
) -> None:
    labels_pb2_grpc.add_LabelsServicer_to_server(
        LabelService(book, peer_keys, registration, trust_list), server
    )
