"""The versioned gRPC contracts (``tongjian.v1``) and the one place that maps them to domain types.

The ``.proto`` files are the source of truth; the ``*_pb2*.py`` modules beside them are generated
by ``scripts/gen-protos`` and committed (a test checks that they are up to date).
``protos.record_mapping`` converts between protobuf messages and ``inspection`` dataclasses, so that
protobuf never travels past the gRPC edge of the agent or the hub.
"""
