"""``Labels``: the hub label keys and this hub's signed revocation list, for offline verifiers
(``tongjian label sync``). Read-only; both answers are public information, signed where it matters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import grpc.aio
from sqlalchemy.exc import SQLAlchemyError

from hub.label_book import LabelBook
from protos.tongjian.v1 import labels_pb2, labels_pb2_grpc

SERVICE_NAME = labels_pb2.DESCRIPTOR.services_by_name["Labels"].full_name


class LabelService(labels_pb2_grpc.LabelsServicer):
    def __init__(self, book: LabelBook, peer_keys: Callable[[], list[tuple[str, bytes]]]) -> None:
        self._book = book
        self._peer_keys = peer_keys

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
        return labels_pb2.LabelKeys(keys=keys)

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


def register_label_service(
    server: grpc.aio.Server,
    book: LabelBook,
    peer_keys: Callable[[], list[tuple[str, bytes]]] = list,
) -> None:
    labels_pb2_grpc.add_LabelsServicer_to_server(LabelService(book, peer_keys), server)
