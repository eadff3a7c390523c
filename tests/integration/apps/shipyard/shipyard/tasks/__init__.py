"""The jobs, one module per department."""
