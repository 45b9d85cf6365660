"""requirements-cl.txt holds the project's own requirements (torch aside) so the CL environment runs it.

Runs in the main environment too: a requirement added to requirements.txt alone fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _requirements(name: str) -> dict[str, str]:
    lines = (line.split("#", 1)[0].strip() for line in (REPO / name).read_text().splitlines())
    return {re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower(): line for line in lines if line}


def test_cl_requirements_cover_the_projects():
    main, cl = _requirements("requirements.txt"), _requirements("requirements-cl.txt")
    assert sorted(set(main) - {"torch"} - set(cl)) == []
    assert {name: cl[name] for name in set(main) - {"torch"}} == {name: main[name] for name in set(main) - {"torch"}}

