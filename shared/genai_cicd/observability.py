"""Logger, Tracer and Metrics, created once and imported by every handler.

POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE come from the SAM
Globals. Logs carry ids, counts and verdicts, never prompts, model outputs or
customer text (see docs/SECURITY.md in the README's list).
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
