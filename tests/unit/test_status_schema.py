"""The JSON Schemas of `status` and `doctor` live in docs/status.md; the tests read them there."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "status.md"


@cache
def schema(name: str) -> dict:
    m = re.search(rf"<!-- schema: {name} -->\s*```json\n(.*?)\n```", DOC.read_text(), re.S)
    assert m, f"no schema {name!r} in {DOC}"
    return json.loads(m.group(1))


def test_the_documented_schemas_are_valid_json_schemas():
    import jsonschema

    for name in ("status", "doctor"):
        jsonschema.Draft202012Validator.check_schema(schema(name))
