"""Faithful simulators of the lane's benches, with fault injection, and a fleet generator.

The RBT simulator is a real Modbus server (TCP, or RTU on a pseudo-terminal); the serial benches
are devices on pseudo-terminals that speak the spec's frames. Each is driven by a per-vehicle
scenario. ``simulators.fleet`` makes realistic, repeatable vehicles. Used by tests, benchmarks
and the demo; production code never imports this package.
"""
