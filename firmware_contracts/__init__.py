"""FieldPulse device wire contract v1: topics, payload models, JSON Schemas, checker.

`models` (pydantic) is the single source of truth; `schemas/*.json` are generated
from it; `validate` checks payloads on the hot path against those schema files.
This package imports no other FieldPulse package, so firmware teams can use it alone.
"""
