"""The ``tongjian`` command line: one entry point that composes the packages for people and tests.

``tongjian.cli`` builds the argument parser from one module per command group in
``tongjian.commands``. This package is the only place that wires simulators, agent and hub
together (the demo); production packages never import it.
"""
