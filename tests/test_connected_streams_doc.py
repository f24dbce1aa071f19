"""The examples of docs/connected-streams.md run as written and their asserts hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "connected-streams.md"
EXAMPLES = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.S | re.M)


def test_the_page_has_its_examples() -> None:
    assert len(EXAMPLES) == 4


@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_every_example_runs(number: int) -> None:
    code = compile(EXAMPLES[number], f"{DOC.name} example {number + 1}", "exec")
    exec(code, {"__name__": f"example_{number + 1}"})
