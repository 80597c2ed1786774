"""genai-cicd: a release control plane for generative-AI applications on AWS.

This package is the Lambda layer (``shared/``) and the CLI. Handlers in
``functions/<name>/app.py`` parse their input, call one logic function from
here and return its output model.
"""

__version__ = "0.1.0"
