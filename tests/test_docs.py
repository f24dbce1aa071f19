"""The docs name only what exists: make targets, dotted Python names, API methods."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamrt import (
    AllWindowedStream,
    BroadcastConnectedStream,
    ConnectedStreams,
    DataStream,
    IntervalJoin,
    IntervalJoined,
    JoinedStreams,
    KeyedStream,
    StreamExecutionEnvironment,
    WatermarkStrategy,
    WindowedStream,
)
from streamrt.runtime.job import Job

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
#: the stream classes of the DataStream API: a chained ``.method(`` belongs to one of them
STREAM = (
    DataStream,
    KeyedStream,
    WindowedStream,
    AllWindowedStream,
    JoinedStreams,
    ConnectedStreams,
    BroadcastConnectedStream,
    IntervalJoin,
    IntervalJoined,
)

#: backticked dotted names that look like Python but are not: the Kafka header names a
#: dead-lettered record carries (README, "Bad records")
NOT_PYTHON_NAMES = {
    "streamrt.error.type",
    "streamrt.error.message",
    "streamrt.source.topic",
    "streamrt.source.partition",
    "streamrt.source.offset",
}

#: receivers of ``receiver.method(...)`` in README and the classes that must have the method
RECEIVERS: dict[str, tuple[type, ...]] = {
    "env": (StreamExecutionEnvironment,),
    "StreamExecutionEnvironment": (StreamExecutionEnvironment,),
    "stream": STREAM,
    "a": STREAM,  # "a.connect(b)", "a.join(b)": two streams
    "b": STREAM,
    "rules": STREAM,  # "rules.broadcast(descriptor)"
    "job": (Job,),
    "WatermarkStrategy": (WatermarkStrategy,),
}
#: receivers that are not one of the API classes above (checked elsewhere or not at all)
OTHER_RECEIVERS = {
    "metrics",  # a module: ``metrics.MetricsServer`` is checked as a dotted name
    "runtime_context",  # a process function's runtime context
    "ctx",  # a process function's context
    "json",  # the stdlib module (the serde's alternative)
}
#: calls written without a receiver that are not methods of the stream classes
NOT_STREAM_METHODS: dict[str, tuple[type, ...] | None] = {
    "fn": None,  # the signature of a timestamp assigner, a user function
    "with_idleness": (WatermarkStrategy,),  # named bare in the KafkaSource bullet
}


def prose(text: str) -> str:
    """``text`` without its fenced code blocks."""
    return FENCE.sub("", text)


def paragraphs(text: str) -> Iterator[str]:
    """Paragraphs of prose; every list item counts as a paragraph of its own."""
    for block in re.split(r"\n\s*\n", prose(text)):
        yield from (p for p in re.split(r"\n(?=- )", block) if p.strip())


def spans(text: str) -> list[str]:
    return SPAN.findall(prose(text))


# -- make targets ---------------------------------------------------------------------------
def makefile_rules() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_-]+)\s*:(?![:=])", text, re.M))


def phony_targets() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    return [t for line in re.findall(r"^\.PHONY:(.*)$", text, re.M) for t in line.split()]


def readme_make_targets() -> list[str]:
    text = README.read_text()
    commands = spans(text) + [
        line for lang, body in FENCE.findall(text) if lang == "sh" for line in body.splitlines()
    ]
    found = []
    for command in commands:
        found += re.findall(r"(?:^|\s)make ([A-Za-z0-9_-]+)", command.strip())
    return found


def test_the_makefile_parser_sees_the_rules() -> None:
    assert {"test", "run"} <= makefile_rules()
    assert "test" in phony_targets()
    assert {"run", "test", "bench"} <= set(readme_make_targets())


def test_every_make_target_in_the_readme_is_a_rule() -> None:
    missing = sorted(set(readme_make_targets()) - makefile_rules())
    assert missing == [], f"README.md mentions make targets the Makefile lacks: {missing}"


def test_every_phony_target_is_a_rule() -> None:
    missing = sorted(set(phony_targets()) - makefile_rules())
    assert missing == [], f".PHONY names targets the Makefile lacks: {missing}"


# -- dotted names ---------------------------------------------------------------------------
DOTTED = re.compile(r"(?<![\w./-])((?:streamrt|operators|metrics)(?:\.[A-Za-z_]\w*)+)")


def documented_dotted_names() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for span in spans(doc.read_text()):
            found += [(doc.name, name) for name in DOTTED.findall(span)]
    return sorted(set(found))


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_dotted_names_are_found_in_the_docs() -> None:
    names = {name for _, name in documented_dotted_names()}
    assert {"streamrt.testing", "metrics.MetricsServer"} <= names
    assert names >= NOT_PYTHON_NAMES, "the header names moved: update NOT_PYTHON_NAMES"


@pytest.mark.parametrize(("doc", "name"), documented_dotted_names())
def test_every_backticked_dotted_name_resolves(doc: str, name: str) -> None:
    if name in NOT_PYTHON_NAMES:
        return
    assert resolves(name), f"{doc} names `{name}`, which does not import"


def readme_imports() -> list[tuple[str, str]]:
    found = []
    for lang, body in FENCE.findall(README.read_text()):
        if lang != "python":
            continue
        for module, names in re.findall(
            r"^from ((?:streamrt|operators|metrics)[\w.]*) import (.+)$", body, re.M
        ):
            found += [(module, n.strip()) for n in names.split(",")]
    return found


@pytest.mark.parametrize(("module", "name"), readme_imports())
def test_every_import_in_the_readme_examples_resolves(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"from {module} import {name}"


# -- API methods named in README ------------------------------------------------------------
API_PARAGRAPH = "Names follow PyFlink's DataStream API"
CALL = re.compile(
    r"(?:(?<=\))\.(?P<chained>)|(?<![\w.])(?:(?P<receiver>[A-Za-z_]\w*)\.|(?P<dot>\.))?)"
    r"(?P<name>[A-Za-z_]\w*)\("
)


def api_paragraph_names() -> list[str]:
    found = [p for p in paragraphs(README.read_text()) if p.startswith(API_PARAGRAPH)]
    assert len(found) == 1, f"README.md has no paragraph starting {API_PARAGRAPH!r}"
    return [s.removesuffix("()") for s in SPAN.findall(found[0])]


def readme_method_calls() -> list[tuple[str, tuple[str, ...]]]:
    """(method, names of the classes that must have it) for every call README shows."""
    checks: list[tuple[str, tuple[str, ...]]] = []
    for paragraph in paragraphs(README.read_text()):
        context: tuple[type, ...] = STREAM  # a leading-dot call continues the last receiver
        for span in SPAN.findall(paragraph):
            chain: tuple[type, ...] | None = None
            for call in CALL.finditer(span):
                receiver, name = call["receiver"], call["name"]
                if call["chained"] is not None:
                    if chain is None:
                        continue  # a call on what an unchecked call returned
                    classes: tuple[type, ...] | None = chain
                elif receiver:
                    if receiver in OTHER_RECEIVERS:
                        chain = None
                        continue
                    assert receiver in RECEIVERS, (
                        f"README.md calls `{receiver}.{name}(`: add {receiver!r} to RECEIVERS "
                        "or OTHER_RECEIVERS"
                    )
                    classes = context = RECEIVERS[receiver]
                elif name[0].isupper():
                    chain = None
                    continue  # a constructor call; classes are checked by import
                elif name in NOT_STREAM_METHODS:
                    classes = NOT_STREAM_METHODS[name]
                else:
                    classes = context
                chain = classes
                if classes is not None:
                    checks.append((name, tuple(c.__name__ for c in classes)))
    return sorted(set(checks))


CLASSES = {c.__name__: c for c in (*STREAM, StreamExecutionEnvironment, Job, WatermarkStrategy)}


def test_the_api_checks_find_the_documented_calls() -> None:
    names = api_paragraph_names()
    assert {"from_collection", "key_by", "execute_and_collect"} <= set(names)
    calls = dict(readme_method_calls())
    streams = tuple(c.__name__ for c in STREAM)
    assert calls["on_error"] == streams
    assert calls["enable_checkpointing"] == ("StreamExecutionEnvironment",)
    assert calls["for_monotonous_timestamps"] == ("WatermarkStrategy",)
    assert calls["global_"] == streams
    assert calls["between"] == streams  # a chained call: some stream class has it


@pytest.mark.parametrize("name", api_paragraph_names())
def test_every_name_in_the_api_paragraph_is_a_stream_or_environment_method(name: str) -> None:
    owners = (*STREAM, StreamExecutionEnvironment)
    assert any(callable(getattr(c, name, None)) for c in owners), (
        f"README.md presents `{name}` as a DataStream/KeyedStream/"
        "StreamExecutionEnvironment method; none has it"
    )


@pytest.mark.parametrize(("name", "classes"), readme_method_calls())
def test_every_method_call_in_the_readme_exists(name: str, classes: tuple[str, ...]) -> None:
    assert any(callable(getattr(CLASSES[c], name, None)) for c in classes), (
        f"README.md calls `{name}(` on {' / '.join(classes)}; none has it"
    )


def test_the_readme_windows_example_prints_what_its_comment_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = README.read_text()
    section = text[text.index("## Windows, joins, state and async I/O") :]
    match = FENCE.search(section)
    assert match is not None
    code = match.group(2)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.strip()
    assert printed == "[('ann', 1), ('ann', 2), ('bob', 1)]"
    assert f"# {printed}" in code
