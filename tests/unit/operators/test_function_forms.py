"""collector_form: our collector form passes through, PyFlink's yielding form is wrapped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from operators.function_forms import collector_form
from streamrt import OutputTag


class _Out:
    def __init__(self) -> None:
        self.main: list[Any] = []
        self.side: list[tuple[str, Any]] = []

    def collect(self, value: Any) -> None:
        self.main.append(value)

    def collect_side(self, tag: OutputTag[Any], value: Any) -> None:
        self.side.append((tag.tag_id, value))


def test_the_collector_form_is_returned_as_is() -> None:
    def process(value: Any, ctx: Any, out: Any) -> None:
        out.collect(value)

    assert process is collector_form(process, 2)


@pytest.mark.parametrize("method", [print, lambda *args: None])
def test_no_readable_arity_is_the_collector_form(method: Any) -> None:
    assert method is collector_form(method, 2)


@pytest.mark.parametrize("arity", [1, 2, 3, 4])
def test_the_yielding_form_emits_what_it_yields(arity: int) -> None:
    late: OutputTag[str] = OutputTag("late")
    names = ", ".join(f"a{i}" for i in range(arity))
    namespace: dict[str, Any] = {"late": late}
    exec(  # a method of exactly ``arity`` parameters
        f"def method({names}):\n    yield ({names},)\n    yield (late, 'side')\n", namespace
    )
    out = _Out()
    collector_form(namespace["method"], arity)(*range(arity), out)
    assert [tuple(range(arity))] == out.main
    assert out.side == [("late", "side")]


def test_the_yielding_form_may_return_a_list_or_none() -> None:
    def listing(value: Any, ctx: Any) -> list[Any] | None:
        return [value, value] if value else None

    out = _Out()
    call = collector_form(listing, 2)
    call(0, None, out)
    call(3, None, out)
    assert out.main == [3, 3]


def test_a_plain_tuple_of_two_is_a_main_output_value() -> None:
    def pairs(left: Any, right: Any, ctx: Any) -> Iterator[Any]:
        yield (left, right)

    out = _Out()
    collector_form(pairs, 3)("a", "b", None, out)
    assert out.main == [("a", "b")]
