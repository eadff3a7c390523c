"""The figures of the bench, one module each (figures 1, 1b and 5 share one rotation).

Every module has a `measure` that runs the measurement and returns its results by their
key in the results file, and `report.Figure`s whose `rows` turn a result into lines of
the table. bench/bench.py lists them, in the order of the table.
"""
