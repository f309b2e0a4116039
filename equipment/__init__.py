"""Drivers for a lane's test benches, and the codecs and transports under them.

Layers, bottom up: transports (Modbus TCP / RTU through pymodbus, RS-232 through pyserial) move
bytes or registers; codecs (sans-I/O, like h11) turn bytes into frames and back; drivers run a
bench's command sequence and return readings in the spec's units. Device profiles (TOML) say
where a vendor keeps each quantity. Nothing here knows about lanes, agents or hubs.
Errors: ``equipment.errors`` (every failure names device, command and cause).
"""
