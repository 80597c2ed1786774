"""The whole stack on the embedded AWS, one per module (fixtures in tests/stack.py)."""

from tests.stack import aws, runner  # noqa: F401
