"""The committed contract documents pass tools no one here wrote (installed by `make test-tools` into .tools/npm
when npm is there): the AsyncAPI document the AsyncAPI initiative's parser (`@asyncapi/parser`) with no error and
no warning (its only remark: AsyncAPI 3.1 exists); each OpenAPI document Redocly's `recommended` rules
(`@redocly/openapi-core`, the engine of `@redocly/cli lint`) with no error (3 warnings each: no licence, and
/healthz and /readyz answer no 4xx)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / ".tools" / "npm" / "node_modules"
SCRIPT = """
const { Parser, fromFile } = require('@asyncapi/parser');
(async () => {
  const { document, diagnostics } = await fromFile(new Parser(), process.argv[1]).parse();
  const severity = ['error', 'warning', 'info', 'hint'];
  console.log(JSON.stringify({parsed: Boolean(document), diagnostics: diagnostics.map(
    (d) => ({severity: severity[d.severity], code: d.code, path: d.path, message: d.message}))}));
})();
"""


def test_the_asyncapi_document_passes_the_asyncapi_parser() -> None:
    node = shutil.which("node")
    if node is None or not (MODULES / "@asyncapi" / "parser").is_dir():
        pytest.skip("needs node and @asyncapi/parser (make test-tools installs it where npm is)")
    document = REPO / "docs" / "contracts" / "asyncapi.json"
    result = subprocess.run(
        [node, "-e", SCRIPT, str(document)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(MODULES)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    serious = [d for d in report["diagnostics"] if d["severity"] in ("error", "warning")]
    assert report["parsed"] and not serious, serious


LINT = """
const { lint, createConfig } = require('@redocly/openapi-core');
(async () => {
  const config = await createConfig({ extends: ['recommended'] });
  const problems = await lint({ ref: process.argv[1], config });
  console.log(JSON.stringify(problems.map((p) => ({severity: p.severity, rule: p.ruleId, message: p.message}))));
})();
"""


@pytest.mark.parametrize("service", ["intake", "tracking", "notifier"])
def test_each_openapi_document_passes_redoclys_recommended_rules(service: str) -> None:
    node = shutil.which("node")
    if node is None or not (MODULES / "@redocly" / "openapi-core").is_dir():
        pytest.skip("needs node and @redocly/openapi-core (make test-tools installs it where npm is)")
    document = REPO / "docs" / "contracts" / f"openapi-{service}.json"
    result = subprocess.run(
        [node, "-e", LINT, str(document)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(MODULES)},
    )
    assert result.returncode == 0, result.stderr
    problems = json.loads(result.stdout.strip().splitlines()[-1])
    assert not [p for p in problems if p["severity"] == "error"], problems
