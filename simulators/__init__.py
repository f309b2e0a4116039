"""Faithful simulators of the lane's benches, with fault injection, and a fleet generator.

The RBT simulator is a real Modbus server (TCP, or RTU on a pseudo-terminal); the serial benches
are devices on pseudo-terminals that speak the spec's frames. Each is driven by a per-vehicle
scenario; the chassis dynamometer (a Modbus TCP server too) holds a physical model of the vehicle on
its rollers (``vehicle_on_rollers``), which the gas analyser and opacity meter can read as well. ``simulators.fleet`` makes realistic, repeatable vehicles. Used by tests, benchmarks
and the demo; production code never imports this package.
"""
