"""Plain, typed business logic called by the handlers. AWS sits behind ``aws/`` adapters."""
