"""Foundation-model providers behind one interface (README, "Run and debug locally").

- ``BedrockConverseProvider``: Bedrock Converse (production; locally the
  embedded backend answers the same call with the simulated model).
- ``OpenAICompatibleProvider``: any OpenAI-compatible endpoint (Ollama, vLLM).
"""

from genai_cicd.providers.base import (
    GenerationRequest,
    GenerationResult,
    ModelProvider,
    ProviderError,
    ProviderThrottled,
    ProviderTransient,
)

__all__ = ["GenerationRequest", "GenerationResult", "ModelProvider", "ProviderError", "ProviderThrottled",
           "ProviderTransient"]
