"""The web client's generated API types match the server's OpenAPI document (no drift)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

WEB = ROOT / "web"


def test_generated_api_types_match_the_openapi_document() -> None:
    if shutil.which("node") is None or not (WEB / "node_modules" / "openapi-typescript").is_dir():
        pytest.skip("web/node_modules is missing: run scripts/setup")
    result = subprocess.run(["node", "scripts/gen-api.mjs", "--check"], cwd=WEB, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
