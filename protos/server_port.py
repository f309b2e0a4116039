"""Listening for gRPC on one address, alone: the one way every Tongjian server binds its port.

grpc servers set SO_REUSEPORT by default, so a second hub started on a busy port "served" and took
about half the stations' connections into its own database. Every server we start is built with
``SERVER_OPTIONS`` (which turns that off) and bound with ``listen``, which turns grpc's bare
``RuntimeError`` into ``PortInUse`` naming the address.
"""

from __future__ import annotations

import grpc

from protos.errors import ProtosError

# A server's options must include these; callers add their own after them.
SERVER_OPTIONS: tuple[tuple[str, int], ...] = (("grpc.so_reuseport", 0),)


class PortInUse(ProtosError, OSError):
    """The address cannot be bound: another process listens there, or it is not ours to take."""

    def __init__(self, address: str) -> None:
        super().__init__(f"cannot listen on {address}: address already in use or not available")
        self.address = address


def listen(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None = None) -> int:
    """Bind ``server`` to ``address`` (TLS when ``credentials`` are given); returns the bound port."""
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as error:  # grpc's only signal for a failed bind
        raise PortInUse(address) from error
    if port == 0:
        raise PortInUse(address)
    return port
