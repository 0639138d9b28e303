"""Known vulnerabilities in the locked dependencies (`make audit`).

Python: every package of uv.lock (`uv export --frozen`, all groups: the dev tools run in CI) is
looked up by pip-audit in PyPI's vulnerability data. Front end: `npm audit --omit=dev` on
package-lock.json (what the image serves). Exit status:

  0  every package was checked and none has a known vulnerability
  1  a known vulnerability (upgrade within pyproject.toml's ranges: `uv lock --upgrade-package X`)
  2  not every package could be checked: the vulnerability service did not answer

pip-audit alone reports "No known vulnerabilities found" (and exits 0) when the service answered
nothing for any package; npm audit fails with a bare HTTP error. Both are read here, so an audit
that did not happen says so instead of passing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLEAN, VULNERABLE, UNCHECKED = 0, 1, 2


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, text=True, capture_output=True, check=False)  # noqa: S603


def audit_python() -> int:
    export = _run(
        [str(BIN / "uv"), "export", "--frozen", "--no-hashes", "--no-emit-project", "--all-groups"]
    )
    if export.returncode:
        print(f"python: uv export failed:\n{export.stderr}")
        return UNCHECKED
    with tempfile.TemporaryDirectory() as work:
        requirements, report = Path(work) / "requirements.txt", Path(work) / "report.json"
        requirements.write_text(export.stdout)
        result = _run(
            [str(BIN / "pip-audit"), "--requirement", str(requirements), "--no-deps",
             "--disable-pip", "--progress-spinner", "off", "--format", "json",
             "--output", str(report)]
        )  # fmt: skip
        if not report.exists() or not report.read_text().strip():
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(
                f"python: NOT CHECKED: pip-audit could not query the vulnerability service: {last}"
            )
            return UNCHECKED
        dependencies = json.loads(report.read_text())["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if "skip_reason" in d]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(f"python: {dependency['name']} {dependency['version']}: {vuln['id']} "
                  f"(fixed in {fixed})")  # fmt: skip
    if vulnerable:
        return VULNERABLE
    if skipped:
        print(f"python: NOT CHECKED: {len(skipped)} of {len(dependencies)} packages could not be "
              f"looked up, e.g. {skipped[0]['skip_reason']}")  # fmt: skip
        return UNCHECKED
    print(f"python: {len(dependencies)} packages checked, no known vulnerability")
    return CLEAN


def audit_npm() -> int:
    npm = shutil.which("npm")
    if npm is None:
        print("npm: NOT CHECKED: npm is not installed")
        return UNCHECKED
    result = _run([npm, "audit", "--omit=dev", "--json"])
    try:
        report = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        report = {}
    counts = report.get("metadata", {}).get("vulnerabilities")
    if not isinstance(counts, dict):
        reason = report.get("message") or (result.stderr.strip().splitlines() or ["?"])[-1]
        print(f"npm: NOT CHECKED: the registry's audit endpoint did not answer: {reason}")
        return UNCHECKED
    found = {level: n for level, n in counts.items() if level != "total" and n}
    for name, advisory in sorted(report.get("vulnerabilities", {}).items()):
        print(f"npm: {name}: {advisory.get('severity')} (range {advisory.get('range')})")
    if found:
        return VULNERABLE
    dependencies = report.get("metadata", {}).get("dependencies", {})
    print(f"npm: {dependencies.get('prod', '?')} packages checked, no known vulnerability")
    return CLEAN


def main() -> int:
    outcomes = {audit_python(), audit_npm()}
    # A vulnerability found anywhere outranks a service that did not answer elsewhere.
    outcome = next(o for o in (VULNERABLE, UNCHECKED, CLEAN) if o in outcomes)
    if outcome == UNCHECKED:
        print(
            "audit: INCOMPLETE: some dependencies were not checked (see above); this is not a pass"
        )
    elif outcome == VULNERABLE:
        print("audit: known vulnerabilities found (see above)")
    return outcome


if __name__ == "__main__":
    sys.exit(main())
