"""Adapters: each wraps one AWS service behind a small class taking an injected client."""
