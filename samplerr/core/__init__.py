"""The pure core: no I/O, no clock, no adapters.

Configuration model and validation, periods and ``tf``, event decoding, windows and
consolidation, document rendering and the lifecycle planner. Time always arrives as an
argument. ``tests/test_layering.py`` enforces that nothing here imports an adapter.
"""
