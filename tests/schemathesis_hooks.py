"""schemathesis hooks for tests/service/test_openapi_conformance.py (SCHEMATHESIS_HOOKS).

The batch route takes and answers NDJSON: text, one JSON object per line. Its bodies are sent
as the text they are (the text/plain serializer), and its answers read as text.
"""

from __future__ import annotations

from typing import Any

import schemathesis

schemathesis.serializer.alias(["application/x-ndjson", "application/jsonl"], "text/plain")


@schemathesis.deserializer("application/x-ndjson")
def _ndjson_answer(_ctx: Any, response: Any) -> str:
    text: str = response.content.decode("utf-8")
    return text
