"""``StationNotices.Fetch``: a station reads the notices the hub holds for it (read-only).

With mTLS the client certificate's common name is the station; without it (a test bench) the
request's ``station_id`` is taken at its word, as for ``StationEnrollment``.
"""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio
from sqlalchemy.exc import SQLAlchemyError

from hub.countersign import timestamp
from hub.station_notices import StationNoticeBook
from hub.store import HubStore
from pki.grpc_credentials import peer_common_name
from protos.tongjian.v1 import ingest_pb2, ingest_pb2_grpc

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["StationNotices"].full_name
MAX_NOTICES = 500


class StationNoticesService(ingest_pb2_grpc.StationNoticesServicer):
    def __init__(self, store: HubStore, *, require_certificate: bool) -> None:
        self._book = StationNoticeBook(store.database)
        self._require_certificate = require_certificate

    async def Fetch(  # the generated servicer's method name
        self,
        request: ingest_pb2.NoticesRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.NoticesRequest, ingest_pb2.NoticesReply],
    ) -> ingest_pb2.NoticesReply:
        station = peer_common_name(context)
        if station is None:
            if self._require_certificate:
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED, "client certificate without a common name"
                )
            station = request.station_id
        if not station:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "station_id is required without mTLS")
        limit = min(request.limit or MAX_NOTICES, MAX_NOTICES)
        try:
            notices = await asyncio.to_thread(self._book.after, station, request.after_seq, limit)
        except SQLAlchemyError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub cannot reach its database; retry")
        return ingest_pb2.NoticesReply(
            notices=[
                ingest_pb2.Notice(
                    seq=notice.seq,
                    kind=notice.kind,
                    record_id=notice.record_id or "",
                    reason=notice.reason,
                    at=timestamp(notice.at),
                )
                for notice in notices
            ]
        )


def register_notice_service(server: grpc.aio.Server, store: HubStore, *, require_certificate: bool) -> None:
    ingest_pb2_grpc.add_StationNoticesServicer_to_server(
        StationNoticesService(store, require_certificate=require_certificate), server
    )
