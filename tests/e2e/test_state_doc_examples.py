"""The Python examples of docs/state.md run and their assertions hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "state.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
EXAMPLES = FENCE.findall(DOC.read_text())


def test_the_doc_has_its_examples() -> None:
    assert len(EXAMPLES) == 3


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_a_doc_example_runs(index: int) -> None:
    exec(compile(EXAMPLES[index], f"{DOC.name} example {index + 1}", "exec"), {})
