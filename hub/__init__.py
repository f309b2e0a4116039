"""A province hub: verifies signed inspection records from stations and stores them.

gRPC in front (``StationIngest``), SQLAlchemy behind (SQLite file by default, PostgreSQL in
production; several stateless replicas may share one PostgreSQL). Every envelope is checked
against the station directory's keys before anything is stored, and stored byte for byte.
The registry staff's web console (``hub.console``) is served by the same process, over the same
service objects as the gRPC APIs.
"""
