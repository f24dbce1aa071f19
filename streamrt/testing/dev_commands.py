"""Development commands: a Kafka-protocol broker and topic tools for the shell, without Docker.

::

    streamrt broker [--port 9092] [--data-dir DIR] [--topic NAME[:PARTITIONS]]... [--kind noida]
    streamrt topics [--bootstrap HOST:PORT] create NAME[:PARTITIONS]...
    streamrt topics [--bootstrap HOST:PORT] list [--all]
    streamrt topics [--bootstrap HOST:PORT] produce NAME [--key-separator SEP]
    streamrt topics [--bootstrap HOST:PORT] tail NAME [--from-beginning] [--max N]
                    [--timeout-ms MS] [--keys]

``broker`` runs the embedded broker (``streamrt.testing.embedded_broker``, from the
``streamrt[test]`` extra) in the foreground, creates the topics, prints ``bootstrap: HOST:PORT``
on stdout once they exist and stops on Ctrl-C or SIGTERM (exit status 0). ``topics`` talks to
any Kafka-protocol broker through the typed adapter ``streamrt.connectors.kafka._aiokafka``.

Exit statuses: 0 done (also a broker or ``tail`` stopped by Ctrl-C), 1 a Kafka or broker
failure (unreachable broker, unknown topic), 2 a usage error (port in use, missing wheel, bad
arguments), 130 ``produce`` interrupted by Ctrl-C (what was read so far is sent).

``streamrt.cli`` adds these with ``add_commands`` and dispatches with ``run``; without it, use
``python -m streamrt.testing.dev_commands broker ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, get_args

from streamrt.connectors.kafka._aiokafka import Admin, Consumer, Producer, connector_error
from streamrt.errors import ConfigError, ConnectorError
from streamrt.testing.embedded_broker import (
    BrokerKind,
    EmbeddedBroker,
    EmbeddedBrokerError,
    _PortInUseError,
    find_binary,
)

__all__ = ["DEFAULT_BOOTSTRAP", "DEFAULT_PORT", "add_commands", "main", "run"]

#: ``streamrt broker`` listens here unless ``--port`` says otherwise.
DEFAULT_PORT = 9092
_HOST = "127.0.0.1"
#: ``streamrt topics`` talks to ``$KAFKA_BOOTSTRAP`` if set, else to this.
DEFAULT_BOOTSTRAP = f"{_HOST}:{DEFAULT_PORT}"
_TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")  # Kafka's rule for topic names
_KAFKA_LOGGERS = ("aiokafka", "streamrt.connectors.kafka")
_FLUSH_EVERY = 10_000  # produce: wait for acknowledgements after this many records


class _CommandError(Exception):
    """A command failed with a one-line message and an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------------- arguments


def _topic_spec(text: str) -> tuple[str, int]:
    """Parse ``NAME[:PARTITIONS]`` (an argparse type); 1 partition when none is given."""
    name, sep, count = text.rpartition(":")
    if not sep:
        name, count = text, "1"
    if not _TOPIC_NAME.fullmatch(name) or name in {".", ".."}:
        msg = (
            f"invalid topic name {name!r} in {text!r}: use 1 to 249 of a-z A-Z 0-9 . _ - "
            "(e.g. orders or orders:4)"
        )
        raise argparse.ArgumentTypeError(msg)
    if not count.isdigit() or int(count) < 1:
        msg = f"invalid partition count {count!r} in {text!r}: expected an integer >= 1"
        raise argparse.ArgumentTypeError(msg)
    return name, int(count)


def _topic_name(text: str) -> str:
    if not _TOPIC_NAME.fullmatch(text) or text in {".", ".."}:
        msg = f"invalid topic name {text!r}: use 1 to 249 of a-z A-Z 0-9 . _ -"
        raise argparse.ArgumentTypeError(msg)
    return text


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        msg = f"invalid port {text!r}: expected 0 to 65535 (0 picks a free port)"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        msg = f"invalid value {text!r}: expected an integer >= 1"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        msg = f"invalid value {text!r}: expected seconds > 0"
        raise argparse.ArgumentTypeError(msg)
    return value


def _connection_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """Options every ``topics`` command takes, before or after its name.

    The copies on the subcommands have no defaults (``SUPPRESS``), so they only override
    what was given before the subcommand when given themselves.
    """

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=default(os.environ.get("KAFKA_BOOTSTRAP") or DEFAULT_BOOTSTRAP),
        help=f"the broker(s), comma-separated (default: $KAFKA_BOOTSTRAP or {DEFAULT_BOOTSTRAP})",
    )
    parser.add_argument(
        "--connect-attempts",
        type=_positive,
        default=default(3),
        metavar="N",
        help="connection attempts before giving up (default: 3)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=default(5.0),
        metavar="SECONDS",
        help="timeout of each connection attempt (default: 5)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="show the Kafka client's log",
    )


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``broker`` and ``topics`` commands to a CLI's subparsers.

    Args:
        subparsers: what ``parser.add_subparsers(dest="command")`` returned; ``run`` dispatches
            on ``args.command``.
    """
    broker = subparsers.add_parser(
        "broker",
        help="run a Kafka-protocol broker in the foreground (development; no Docker)",
        description=(
            "Run the embedded Kafka-protocol broker from the streamrt[test] extra until Ctrl-C "
            "or SIGTERM. Prints 'bootstrap: HOST:PORT' on stdout once it is ready and the "
            "topics exist."
        ),
    )
    broker.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"the loopback port to listen on (default: {DEFAULT_PORT}; 0 picks a free one)",
    )
    broker.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the data here across restarts (noida only; default: a temp dir deleted at exit)",
    )
    broker.add_argument(
        "--topic",
        dest="topics",
        action="append",
        type=_topic_spec,
        default=[],
        metavar="NAME[:PARTITIONS]",
        help="create this topic (default 1 partition; repeatable); existing ones are left alone",
    )
    broker.add_argument(
        "--kind",
        choices=get_args(BrokerKind),
        default="noida",
        help="noida (default: data dir, restartable) or tansu (memory only)",
    )
    broker.set_defaults(dev_prog=broker.prog.rpartition(" ")[0])

    topics = subparsers.add_parser(
        "topics",
        help="create, list, produce to and tail Kafka topics",
        description="Create, list, produce to and tail the topics of a Kafka-protocol broker.",
    )
    _connection_options(topics, defaults=True)
    topics.set_defaults(dev_prog=topics.prog.rpartition(" ")[0])
    actions = topics.add_subparsers(dest="topics_command", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create topics (existing ones are left alone)")
    create.add_argument(
        "specs",
        nargs="+",
        type=_topic_spec,
        metavar="NAME[:PARTITIONS]",
        help="the topic and its partition count (default 1)",
    )
    listing = actions.add_parser("list", help="print each topic and its partition count")
    listing.add_argument("--all", action="store_true", help="include internal topics (__...)")
    produce = actions.add_parser("produce", help="send each line of stdin as a record value")
    produce.add_argument("topic", type=_topic_name, help="an existing topic")
    produce.add_argument(
        "--key-separator",
        metavar="SEP",
        help="split each line at the first SEP into key and value (a line without it: no key)",
    )
    tail = actions.add_parser("tail", help="print record values, one per line")
    tail.add_argument("topic", type=_topic_name, help="an existing topic")
    tail.add_argument(
        "--from-beginning", action="store_true", help="start at the oldest record, not the end"
    )
    tail.add_argument("--max", type=_positive, metavar="N", help="stop after N records")
    tail.add_argument(
        "--timeout-ms",
        type=_positive,
        metavar="MS",
        help="stop after MS milliseconds without a record (default: run until Ctrl-C)",
    )
    tail.add_argument("--keys", action="store_true", help="print key<TAB>value")
    for action in (create, listing, produce, tail):
        _connection_options(action, defaults=False)


def run(args: argparse.Namespace) -> int:
    """Run the command ``add_commands`` parsed into ``args``; return the exit status.

    Raises:
        ValueError: ``args.command`` is not ``broker`` or ``topics``.
    """
    if args.command == "broker":
        return _broker(args)
    if args.command == "topics":
        return _topics(args)
    msg = f"unknown development command {args.command!r}; expected 'broker' or 'topics'"
    raise ValueError(msg)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m streamrt.testing.dev_commands``."""
    parser = argparse.ArgumentParser(
        prog="python -m streamrt.testing.dev_commands",
        description="Development commands: a Kafka-protocol broker and topic tools.",
    )
    add_commands(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


def _say(args: argparse.Namespace, message: str) -> None:
    print(f"{args.dev_prog} {args.command}: {message}", file=sys.stderr, flush=True)


def _partitions(count: int) -> str:
    return f"{count} partition" + ("" if count == 1 else "s")


def _records(count: int) -> str:
    return f"{count} record" + ("" if count == 1 else "s")


# ------------------------------------------------------------------------------------- broker


def _check_port(port: int) -> None:
    """Raise ``_CommandError`` (status 2) unless ``port`` can be listened on."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        try:
            sock.bind((_HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                msg = (
                    f"port {port} on {_HOST} is already in use (another broker?); pick another "
                    "with --port, or --port 0 for a free one"
                )
            else:
                msg = f"cannot listen on {_HOST}:{port}: {exc.strerror or exc}"
            raise _CommandError(msg, 2) from exc


def _data_dir(args: argparse.Namespace) -> Path | None:
    if args.data_dir is None:
        return None
    if args.kind != "noida":
        msg = f"--data-dir needs --kind noida; the {args.kind} broker keeps data in memory"
        raise _CommandError(msg, 2)
    path = Path(args.data_dir).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"--data-dir {args.data_dir}: cannot create a directory there ({exc.strerror})"
        raise _CommandError(msg, 2) from exc
    return path


def _broker(args: argparse.Namespace) -> int:
    """``broker``: run until SIGINT/SIGTERM; see the module docstring."""
    try:
        find_binary(args.kind)
        data_dir = _data_dir(args)
        if args.port:
            _check_port(args.port)
        broker = EmbeddedBroker(args.kind, port=args.port or None, data_dir=data_dir)
    except (EmbeddedBrokerError, ConfigError) as exc:  # a missing wheel, a bad combination
        _say(args, str(exc))
        return 2
    except _CommandError as exc:
        _say(args, str(exc))
        return exc.status
    _quiet_kafka_logs(verbose=False)
    # SIGTERM like Ctrl-C: KeyboardInterrupt, so that `finally` stops the broker by its PID
    # (a child starts with default handlers: exec resets them). SIGINT too, explicitly: a shell
    # starts a background job (`streamrt broker &`) with SIGINT ignored, and Python keeps that.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _serve(args, broker)
    except KeyboardInterrupt:
        _say(args, f"stopping the {args.kind} broker (pid {broker.pid})")
        return 0
    finally:
        # A second Ctrl-C must not interrupt the stop and leave the broker running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            broker.stop()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)


def _serve(args: argparse.Namespace, broker: EmbeddedBroker) -> int:
    try:
        broker.start()
    except _PortInUseError:  # taken between our check and the broker's bind
        _say(args, f"port {args.port} on {_HOST} is already in use; pick another with --port")
        return 2
    except EmbeddedBrokerError as exc:
        _say(args, str(exc))
        return 1
    bootstrap = broker.bootstrap_servers
    if broker.data_dir is None:
        where = "data in memory"
    elif args.data_dir is None:
        where = f"data in {broker.data_dir} (a temp dir, deleted at exit; keep it with --data-dir)"
    else:
        where = f"data in {broker.data_dir} (kept)"
    _say(args, f"{args.kind} broker (pid {broker.pid}) on {bootstrap}; {where}")
    try:
        for line in asyncio.run(_ensure_topics(bootstrap, args.topics, 3, 5.0)):
            _say(args, line)
    except (ConnectorError, _CommandError) as exc:
        _say(args, str(exc))
        return 1
    print(f"bootstrap: {bootstrap}", flush=True)
    example = args.topics[0][0] if args.topics else "orders"
    topics = f"{args.dev_prog} topics --bootstrap {bootstrap}"
    hints = [f"  {topics} list"]
    if not args.topics:
        hints.append(f"  {topics} create {example}:4")
    hints += [
        f"  seq 5 | {topics} produce {example}",
        f"  {topics} tail {example} --from-beginning",
    ]
    print("try, in another shell:", *hints, sep="\n", file=sys.stderr)
    _say(args, "Ctrl-C stops it")
    while broker.running:
        time.sleep(0.5)  # a signal interrupts the sleep at once (KeyboardInterrupt)
    _say(args, f"the {args.kind} broker (pid {broker.pid}) exited by itself")
    return 1


async def _ensure_topics(
    bootstrap: str, specs: Sequence[tuple[str, int]], attempts: int, timeout_s: float
) -> list[str]:
    """Create the topics; return a line about each (created, or existing and left alone).

    Which topics exist is read from a consumer's metadata for all topics: asking about one topic
    (as ``Admin.partitions_of`` does) creates it on a broker that auto-creates topics (noida
    does), and ``Admin.create_topic`` cannot be relied on to report an existing one (aiokafka
    0.14 returns the error code instead of raising). The result of each creation is checked.
    """
    if not specs:
        return []
    consumer = Consumer(bootstrap, group_id=None, client_id="streamrt-topics-create", settings={})
    admin = Admin(bootstrap)
    lines = []
    try:
        await consumer.start(attempts=attempts, timeout_s=timeout_s)
        await admin.start(attempts=attempts, timeout_s=timeout_s)
        for name, partitions in specs:
            found = len(await consumer.partitions_of(name))
            if found:
                asked = "" if found == partitions else f" (asked for {partitions})"
                lines.append(
                    f"topic {name!r} already exists with {_partitions(found)}{asked}; left alone"
                )
                continue
            await admin.create_topic(name, partitions)
            found = len(await consumer.partitions_of(name))
            if found != partitions:
                msg = (
                    f"creating topic {name!r} with {_partitions(partitions)} at {bootstrap} "
                    f"failed: the broker reports {_partitions(found)} after the request"
                )
                raise _CommandError(msg)
            lines.append(f"created topic {name!r} with {_partitions(partitions)}")
    finally:
        await admin.close()
        await consumer.stop()
    return lines


# ------------------------------------------------------------------------------------- topics


def _quiet_kafka_logs(*, verbose: bool) -> None:
    """Keep the Kafka client's log (retries, reconnects) off the terminal unless asked for."""
    if not verbose:
        for name in _KAFKA_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _topics(args: argparse.Namespace) -> int:
    """``topics``: run one action; messages on stderr, data on stdout."""
    _quiet_kafka_logs(verbose=args.verbose)
    actions: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
        "create": _create,
        "list": _list,
        "produce": _produce,
        "tail": _tail,
    }
    try:
        return asyncio.run(actions[args.topics_command](args))
    except (ConnectorError, _CommandError) as exc:
        _say(args, str(exc))
        return exc.status if isinstance(exc, _CommandError) else 1
    except KeyboardInterrupt:
        return 130 if args.topics_command == "produce" else 0
    except BrokenPipeError:  # e.g. `tail ... | head -3`: the reader has gone, nothing to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit flush does not fail again
        return 0


async def _create(args: argparse.Namespace) -> int:
    for line in await _ensure_topics(
        args.bootstrap, args.specs, args.connect_attempts, args.connect_timeout
    ):
        print(line, flush=True)
    return 0


def _consumer(args: argparse.Namespace, action: str) -> Consumer:
    return Consumer(
        args.bootstrap, group_id=None, client_id=f"streamrt-topics-{action}", settings={}
    )


async def _start(client: Admin | Consumer | Producer, args: argparse.Namespace) -> None:
    await client.start(attempts=args.connect_attempts, timeout_s=args.connect_timeout)


async def _list(args: argparse.Namespace) -> int:
    consumer = _consumer(args, "list")
    try:
        await _start(consumer, args)
        names = await consumer.topics_matching(".*" if args.all else "(?!__).*")
        for name in names:
            print(f"{name}\t{len(await consumer.partitions_of(name))}")
    finally:
        await consumer.stop()
    if not names:
        _say(args, f"no topics at {args.bootstrap}; create one with `topics create NAME`")
    return 0


def _missing(args: argparse.Namespace, known: Sequence[str]) -> _CommandError:
    shown = ", ".join(name for name in known[:10] if not name.startswith("__")) or "none"
    more = ", ..." if len(known) > 10 else ""
    return _CommandError(
        f"topic {args.topic!r} does not exist at {args.bootstrap} (topics there: {shown}{more}); "
        f"create it with `topics create {args.topic}`"
    )


async def _produce(args: argparse.Namespace) -> int:
    consumer = _consumer(args, "produce")  # it asks about all topics: creates none
    try:
        await _start(consumer, args)
        if not await consumer.partitions_of(args.topic):
            raise _missing(args, await consumer.topics_matching(".*"))
    finally:
        await consumer.stop()
    separator = args.key_separator.encode() if args.key_separator else None
    producer = Producer(args.bootstrap, client_id="streamrt-topics-produce", settings={})
    sent = 0
    pending: list[asyncio.Future[Any]] = []
    try:
        await _start(producer, args)
        async for line in _stdin_lines():
            key: bytes | None = None
            if separator is not None and separator in line:
                key, line = line.split(separator, 1)
            pending.append(await producer.send(args.topic, line, key=key))
            if len(pending) >= _FLUSH_EVERY:
                sent += await _acknowledged(pending, args.topic)
        sent += await _acknowledged(pending, args.topic)
    finally:
        await producer.stop()  # sends what is queued (also after Ctrl-C)
        acked = [f.done() and not f.cancelled() and f.exception() is None for f in pending]
        lost = acked.count(False)
        note = f"; {_records(lost)} not acknowledged" if lost else ""
        _say(args, f"sent {_records(sent + len(acked) - lost)} to topic {args.topic!r}{note}")
    return 0


async def _acknowledged(pending: list[asyncio.Future[Any]], topic: str) -> int:
    """Wait for the broker to acknowledge ``pending``; empty it; return how many there were."""
    try:
        await asyncio.gather(*pending)
    except Exception as exc:  # the client's delivery error, made a ConnectorError once, here
        msg = f"sending to topic {topic!r}"
        raise connector_error(msg, exc) from exc
    count = len(pending)
    pending.clear()
    return count


async def _stdin_lines() -> AsyncIterator[bytes]:
    """Lines of stdin without their line ending, read by a daemon thread.

    A thread, not the event loop: stdin may be a terminal, a pipe or a file, and a blocked
    read must neither stall the producer nor keep Ctrl-C from ending the process. It reads what
    is there (a typed line at once; up to 64 KiB of a pipe) and hands over whole lines.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[bytes] | None] = asyncio.Queue(maxsize=16)

    def hand_over(lines: list[bytes] | None) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(lines), loop).result()

    def read() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed (Ctrl-C): stop reading
            rest = b""
            while chunk := os.read(sys.stdin.fileno(), 65536):
                *lines, rest = (rest + chunk).split(b"\n")
                if lines:
                    hand_over(lines)
            if rest:  # the last line had no line ending
                hand_over([rest])
            hand_over(None)

    threading.Thread(target=read, name="streamrt-stdin", daemon=True).start()
    while (lines := await queue.get()) is not None:
        for line in lines:
            yield line.removesuffix(b"\r")


async def _tail(args: argparse.Namespace) -> int:
    consumer = _consumer(args, "tail")
    try:
        await _start(consumer, args)
        partitions = [(args.topic, p) for p in await consumer.partitions_of(args.topic)]
        if not partitions:
            raise _missing(args, await consumer.topics_matching(".*"))
        consumer.assign(partitions)
        if args.from_beginning:
            await consumer.seek_to_beginning(partitions)
        else:
            await consumer.seek_to_end(partitions)
        start = "the beginning" if args.from_beginning else "the end"
        _say(
            args,
            f"tailing topic {args.topic!r} ({_partitions(len(partitions))}) from {start}; "
            "Ctrl-C stops",
        )
        await _print_records(consumer, args)
    finally:
        await consumer.stop()
    return 0


async def _print_records(consumer: Consumer, args: argparse.Namespace) -> None:
    """Print values (or ``key<TAB>value``) until ``--max`` records or ``--timeout-ms`` idle."""
    loop = asyncio.get_running_loop()
    idle_limit = args.timeout_ms / 1000 if args.timeout_ms else None
    last = loop.time()
    count = 0
    while args.max is None or count < args.max:
        wait_ms = 500
        if idle_limit is not None:
            idle = loop.time() - last
            if idle >= idle_limit:
                return
            wait_ms = max(1, min(wait_ms, round((idle_limit - idle) * 1000)))
        fetched = await consumer.getmany(wait_ms, None if args.max is None else args.max - count)
        if not any(fetched.values()):
            continue
        for messages in fetched.values():
            for message in messages:
                value = (message.value or b"").decode("utf-8", "replace")
                if args.keys:
                    value = (message.key or b"").decode("utf-8", "replace") + "\t" + value
                print(value)
                count += 1
        sys.stdout.flush()
        last = loop.time()


if __name__ == "__main__":
    sys.exit(main())
