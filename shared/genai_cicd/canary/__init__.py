"""Canary analysis: per-interval counts from CloudWatch, an anytime-valid judge."""
