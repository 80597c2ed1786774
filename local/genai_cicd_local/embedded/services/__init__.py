"""The AWS operations moto lacks, one module per service (simulated); backend.py routes calls to them."""
