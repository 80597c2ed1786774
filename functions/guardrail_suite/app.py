"""Gate guardrail_suite: run it for candidate and baseline; evidence to S3, a small verdict to the state."""

from genai_cicd.handlers import gate_handler

lambda_handler = gate_handler("guardrail_suite")
