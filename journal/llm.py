"""The one LLM client of the code base: chat completions through the ``openai`` SDK.

Works with OpenAI and with any OpenAI-compatible server (Ollama, llama.cpp
server, vLLM) via ``OPENAI_BASE_URL``. Settings: ``OPENAI_API_KEY`` (empty =
no LLM; callers fall back to rule-based text), ``OPENAI_BASE_URL``,
``OPENAI_MODEL``, ``OPENAI_TIMEOUT_SECONDS``, ``OPENAI_MAX_RETRIES`` (the SDK
retries connection errors, 408/409/429 and 5xx with backoff).

Errors, rendered by the API's exception handler:

* :class:`LLMUnavailable` -> 503 ``llm_unavailable``: timeout, connection
  refused, rate limited; trying again later may work;
* :class:`LLMBadResponse` -> 502 ``llm_bad_response``: the server answered
  with an error status, or with something that is not a chat completion.
"""

from __future__ import annotations

import logging

import openai
from django.conf import settings
from openai import OpenAI
from openai.types.chat import ChatCompletion
from rest_framework import status

from alphaloop.exceptions import ApplicationError

logger = logging.getLogger(__name__)


class LLMError(ApplicationError):
    """The LLM could not produce an answer; nothing was stored."""


class LLMUnavailable(LLMError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self, message: str):
        super().__init__(message, code="llm_unavailable")


class LLMBadResponse(LLMError):
    status_code = status.HTTP_502_BAD_GATEWAY

    def __init__(self, message: str):
        super().__init__(message, code="llm_bad_response")


def llm_configured() -> bool:
    return bool(settings.OPENAI_API_KEY)


def _client() -> OpenAI:
    return OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=float(settings.OPENAI_TIMEOUT_SECONDS),
        max_retries=settings.OPENAI_MAX_RETRIES,
    )


def chat_complete(messages: list[dict[str, str]], *, max_tokens: int = 900, temperature: float = 0.2) -> str:
    """The assistant's answer to ``messages``; raises :class:`LLMError` subclasses, never SDK errors."""
    try:
        response = _client().chat.completions.create(
            model=settings.OPENAI_MODEL, messages=messages, max_tokens=max_tokens, temperature=temperature
        )
    except (openai.APIConnectionError, openai.RateLimitError) as exc:  # APITimeoutError is a connection error
        logger.warning("LLM unavailable: %s", exc)
        raise LLMUnavailable(f"The language model did not answer: {exc}") from exc
    except openai.APIStatusError as exc:
        logger.warning("LLM error status %s", exc.status_code)
        raise LLMBadResponse(f"The language model answered with HTTP {exc.status_code}.") from exc
    except (openai.APIResponseValidationError, ValueError) as exc:  # ValueError: a body that is not JSON
        raise LLMBadResponse("The language model's answer could not be read.") from exc
    if not isinstance(response, ChatCompletion) or not response.choices:
        raise LLMBadResponse("The language model's answer is not a chat completion.")
    message = response.choices[0].message
    content = (message.content or "").strip() if message is not None else ""
    if not content:
        raise LLMBadResponse("The language model's answer is empty.")
    return content
