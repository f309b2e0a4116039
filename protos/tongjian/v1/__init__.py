"""Generated protobuf / gRPC modules of the ``tongjian.v1`` contracts (do not edit by hand)."""
