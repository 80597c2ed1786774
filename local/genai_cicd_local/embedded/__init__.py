"""The embedded AWS: moto plus a small backend for what moto lacks (README, "The embedded AWS"; docs/EMBEDDED.md).

Everything here is simulated and named as such. Handlers never branch on
"am I local": they make the same boto3 calls, and this package answers them
at the botocore level when no AWS account is in use.
"""
