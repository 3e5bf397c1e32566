"""Fail when a file of the repository holds a secret that `.secrets.baseline` does not list.

`make lint` runs it on every tracked or new, not ignored, file. Unlike detect-secrets' own hook it
never rewrites the baseline: the comparison is by file, secret type and hashed value, so editing a
file around a known (fake or embedded-only) secret does not fail the lint. A finding that is not a
secret: mark its line with `# pragma: allowlist secret`, or re-audit the baseline with
`.venv/bin/detect-secrets scan --baseline .secrets.baseline`.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from detect_secrets.core import baseline
from detect_secrets.core.secrets_collection import SecretsCollection

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".secrets.baseline"


def repository_files() -> list[str]:
    """Tracked files and new files git does not ignore, relative to the repository root."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listing.split("\0") if name and (ROOT / name).is_file()})


def new_secrets(files: list[str], baseline_path: Path = BASELINE) -> list[str]:
    """`file:line: type` of every secret in `files` (relative to the root) missing from the baseline."""
    known = baseline.load(baseline.load_from_file(str(baseline_path)), str(baseline_path))
    found = SecretsCollection()
    # The baseline names files relative to the root: scan them by the same names.
    with contextlib.chdir(ROOT):
        for name in files:
            if name != baseline_path.name:
                found.scan_file(name)
    extra = found - known
    return sorted(f"{name}:{secret.line_number}: {secret.type}" for name, secret in extra)


def main() -> int:
    findings = new_secrets(repository_files())
    for line in findings:
        print(line)
    if findings:
        print(
            f"{len(findings)} possible secret(s) not in .secrets.baseline. Remove them (settings come from "
            "the environment), or, if not a secret, add `# pragma: allowlist secret` on the line.",
            file=sys.stderr,
        )
        return 1
    print("no new secrets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
