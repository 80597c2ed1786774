"""Pydantic models: inputs, outputs and stored records are kept separate."""
