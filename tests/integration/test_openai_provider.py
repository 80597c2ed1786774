"""The OpenAI-compatible provider against a local HTTP endpoint (what Ollama or vLLM serve)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from genai_cicd.providers.base import GenerationRequest, ProviderError, ProviderThrottled, ProviderTransient
from genai_cicd.providers.openai_compat import OpenAICompatibleProvider

STATUS = {"code": 200}
SEEN: list[dict] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if STATUS["code"] != 200:
            self.send_response(STATUS["code"])
            self.end_headers()
            return
        answer = {"choices": [{"message": {"role": "assistant", "content": f"echo: {body['messages'][-1]['content']}"},
                               "finish_reason": "stop"}], "usage": {"prompt_tokens": 11, "completion_tokens": 3}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_given_a_chat_endpoint_when_generating_then_request_and_usage_map(endpoint: str) -> None:
    STATUS["code"] = 200
    provider = OpenAICompatibleProvider(endpoint, api_key="k")
    result = provider.generate(GenerationRequest(model_id="llama3", system="be brief", user="hi", temperature=0.0,
                                                 max_tokens=20, context="doc text"))
    assert result.text.startswith("echo: Retrieved document") and result.input_tokens == 11
    assert result.output_tokens == 3
    call = SEEN[-1]
    assert call["path"] == "/v1/chat/completions" and call["auth"] == "Bearer k"
    assert call["body"]["model"] == "llama3" and call["body"]["messages"][0] == {"role": "system",
                                                                                 "content": "be brief"}


@pytest.mark.parametrize(("code", "error"), [(429, ProviderThrottled), (503, ProviderThrottled),
                                             (500, ProviderTransient), (400, ProviderError)])
def test_given_http_errors_when_generating_then_mapped_for_the_runner(endpoint: str, code: int,
                                                                      error: type[Exception]) -> None:
    STATUS["code"] = code
    with pytest.raises(error):
        OpenAICompatibleProvider(endpoint).generate(GenerationRequest(model_id="m", system="s", user="u"))
    STATUS["code"] = 200


def test_given_a_guardrail_when_using_an_openai_endpoint_then_refused_not_unguarded(endpoint: str) -> None:
    with pytest.raises(ProviderError, match="guardrails need Bedrock"):
        OpenAICompatibleProvider(endpoint).generate(GenerationRequest(model_id="m", system="s", user="u",
                                                                      guardrail_id="g", guardrail_version="1"))
