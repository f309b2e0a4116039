"""The station's local service: runs each lane's tests, judges, signs, and delivers records to the hub.

One record's way through here: lane sequence (drivers from ``equipment``) → ``InspectionRecord``
with the station's verdict → signed ``SignedRecord`` → durable outbox → gRPC uplink to the
province hub, removed from the outbox only when the hub acknowledges it. Inspectors reach the
lanes from a PDA over gRPC (``pda_service``) or in a handheld's browser (``pda_web``), both over
the same sessions and rules.
"""
