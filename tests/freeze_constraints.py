"""Print the versions installed now of everything the project and its tests need (setup.cfg's
install_requires and extras, tests/requirements.txt, and what those require), as pip
constraints. Run from the top of the project after the whole suite passed, to record what it
was proven with:

    python3 tests/freeze_constraints.py > tests/constraints.txt
"""
from __future__ import annotations

import configparser
import re
import sys
from importlib import metadata

from packaging.requirements import Requirement

HEADER = """\
# The versions the whole suite (python3 -m pytest -q -n 2 tests) passed with; `./install.sh --dev`
# installs within them (pip -c), so a fresh CI machine gets what was proven, not whatever
# resolves that day (issue 11, item 12: botocore 1.44 broke S3 downloads until they were fixed).
# Regenerate after a passing run with newer versions: python3 tests/freeze_constraints.py"""


def roots() -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read("setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in cfg["options.extras_require"].values():
        lines += extra.splitlines()
    with open("tests/requirements.txt") as f:
        lines += [line for line in f if not line.startswith("#")]
    return [line.strip() for line in lines if line.strip()]


def closure(requirements: list[str]) -> dict[str, str]:
    """Normalised name -> installed version, following each installed distribution's requirements
    (with the extras asked for, and environment markers evaluated here)."""
    found: dict[str, tuple[str, set[str]]] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            print(f"freeze_constraints: {req.name} is not installed", file=sys.stderr)
            continue
        extras = set(req.extras)
        if key in found and extras <= found[key][1]:
            continue
        found[key] = (dist.version, found.get(key, ("", set()))[1] | extras)
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in (extras or {""})):
                todo.append(sub)
    return {key: version for key, (version, _) in found.items()}


def main() -> int:
    wanted = [r for r in roots() if Requirement(r).marker is None or Requirement(r).marker.evaluate()]
    print(HEADER)
    for key, version in sorted(closure(wanted).items()):
        print(f"{key}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
