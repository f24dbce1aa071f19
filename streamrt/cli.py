"""``streamrt``: run a job as a long-lived service, print its plan, develop against Kafka.

    streamrt run  module:function [--parallelism N] [--job-name NAME] [--segment N]
                  [--metrics-host 0.0.0.0] [--metrics-port 9249 | --no-metrics]
                  [--on-sigterm stop|drain] [--verbose]
    streamrt plan module:function [--format text|mermaid|json]
    streamrt broker [--port 9092] [--topic NAME[:PARTITIONS]]...   (development broker)
    streamrt topics --bootstrap HOST:PORT create|list|produce|tail ...

``function(env)`` builds the pipeline on the ``StreamExecutionEnvironment`` it is given (or
takes no argument and calls ``StreamExecutionEnvironment.get_execution_environment()``, which
returns the same environment). ``run`` executes it until it finishes, serving ``/metrics``,
``/healthz``, ``/readyz`` and ``/job`` on the metrics port (0 picks a free one). If the builder
calls ``env.execute()`` itself (the PyFlink habit), that call runs the job as this service and
``run`` does not run it again. SIGTERM stops gracefully (sources stop, everything in flight is
flushed, offsets are committed; ``--on-sigterm drain`` also fires every pending event-time
timer), Ctrl-C cancels (exit status 130). Errors are one line on stderr and exit status 1;
``--verbose`` adds the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import logging
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from metrics.exporter import DEFAULT_METRICS_PORT, MetricsServer
from streamrt.environment import StreamExecutionEnvironment, run_event_loop
from streamrt.errors import ConfigError, StreamrtError
from streamrt.runtime.job import JobExecutionResult

__all__ = ["load_builder", "main"]

logger = logging.getLogger("streamrt")

#: a builder: takes the environment, or nothing (then uses get_execution_environment())
Builder = Callable[..., Any]

#: the development commands live with the embedded broker, in the testing package
_DEV_COMMANDS = "streamrt.testing.dev_commands"


class _BuildError(StreamrtError):
    """The user's builder raised: reported in one line, the traceback behind --verbose."""


def load_builder(target: str) -> Builder:
    """Import ``module:function`` (the current directory is importable, as with uvicorn).

    Raises:
        ConfigError: the target is malformed, the module cannot be imported, the function does
            not exist, is not callable, or takes other arguments than the environment.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        msg = f"expected module:function, got {target!r} (e.g. examples.orders_demo:build)"
        raise ConfigError(msg)
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        msg = f"cannot import module {module_name!r} of {target!r}: {exc}"
        raise ConfigError(msg) from exc
    except Exception as exc:  # the module itself raised (a syntax error, a failing import)
        msg = f"importing module {module_name!r} of {target!r} failed: {type(exc).__name__}: {exc}"
        raise _BuildError(msg) from exc
    builder = getattr(module, attribute, None)
    if builder is None:
        names = sorted(
            n for n in vars(module) if not n.startswith("_") and callable(vars(module)[n])
        )
        msg = f"module {module_name!r} has no {attribute!r}; callables there: {names}"
        raise ConfigError(msg)
    if not callable(builder):
        msg = f"{target!r} is not callable; it must be a function taking the environment"
        raise ConfigError(msg)
    _takes_environment(builder, target)
    return builder  # type: ignore[no-any-return]


def _takes_environment(builder: Builder, target: str) -> bool:
    """Whether ``builder`` takes the environment (else it takes nothing).

    Raises:
        ConfigError: it takes something else.
    """
    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError):  # no signature to read (a builtin): pass the environment
        return True
    for arguments in ((None,), ()):
        try:
            signature.bind(*arguments)
        except TypeError:
            continue
        return bool(arguments)
    msg = (
        f"builder {target!r} must take one argument, the StreamExecutionEnvironment (or none, "
        "and call StreamExecutionEnvironment.get_execution_environment()); its signature is "
        f"{signature}"
    )
    raise ConfigError(msg)


def _call_builder(builder: Builder, env: StreamExecutionEnvironment, target: str) -> None:
    takes_env = _takes_environment(builder, target)
    try:
        with StreamExecutionEnvironment.prepared(env):
            if takes_env:
                builder(env)
            else:
                builder()
    except StreamrtError:
        raise
    except Exception as exc:
        msg = f"building the job with {target!r} failed: {type(exc).__name__}: {exc}"
        raise _BuildError(msg) from exc


def _environment(args: argparse.Namespace) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment()
    if args.parallelism is not None:
        env.set_parallelism(args.parallelism)
    return env


async def _serve(env: StreamExecutionEnvironment, job_name: str, args: argparse.Namespace) -> Any:
    job = env.create_job(job_name, segment=args.segment)
    loop = asyncio.get_running_loop()
    drain = args.on_sigterm == "drain"
    loop.add_signal_handler(signal.SIGTERM, lambda: job.stop(drain=drain))
    server: MetricsServer | None = None
    try:
        if not args.no_metrics:
            server = MetricsServer(job, host=args.metrics_host, port=args.metrics_port)
            try:
                await server.start()
            except OSError as exc:
                msg = (
                    f"cannot serve metrics on {args.metrics_host}:{args.metrics_port}: "
                    f"{exc.strerror or exc}; choose another --metrics-port (0 picks a free "
                    "one) or pass --no-metrics"
                )
                raise ConfigError(msg) from exc
            print(f"streamrt: metrics at {server.url}/metrics", file=sys.stderr, flush=True)
        return await job.run()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if server is not None:
            await server.stop()


def _cmd_run(args: argparse.Namespace) -> int:
    env = _environment(args)
    builder = load_builder(args.target)
    results: list[JobExecutionResult] = []

    def execute_as_service(env: StreamExecutionEnvironment, name: str) -> JobExecutionResult:
        result: JobExecutionResult = run_event_loop(
            lambda: _serve(env, args.job_name or name, args)
        )
        results.append(result)
        return result

    env.executor = execute_as_service
    try:
        _call_builder(builder, env, args.target)
        if env.last_job is None:  # the builder only built: run it now
            execute_as_service(env, args.target)
    except KeyboardInterrupt:
        name = env.last_job.name if env.last_job else args.target
        print(f"streamrt: job {name!r} cancelled by Ctrl-C", file=sys.stderr)
        return 130
    for result in results:
        print(
            f"streamrt: job {result.job_name!r} finished in {result.net_runtime_seconds:.2f} s",
            file=sys.stderr,
        )
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    env = _environment(args)
    _call_builder(load_builder(args.target), env, args.target)
    print(env.get_execution_plan(args.job_name or args.target, args.format), end="")
    return 0


def _add_job_commands(commands: Any) -> None:
    for name, help_text in (("run", "run a job until it finishes"), ("plan", "print the plan")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("target", help="module:function that builds the job on an env")
        command.add_argument("--parallelism", type=int, help="default parallelism")
        command.add_argument("--job-name", help="the job's name (default: the target)")
        command.add_argument("--verbose", action="store_true", help="show tracebacks")
        if name == "plan":
            command.add_argument("--format", choices=["text", "mermaid", "json"], default="text")
            continue
        command.add_argument("--metrics-host", default="0.0.0.0", help="default 0.0.0.0")
        command.add_argument(
            "--metrics-port",
            type=int,
            default=DEFAULT_METRICS_PORT,
            help=f"default {DEFAULT_METRICS_PORT}; 0 picks a free port",
        )
        command.add_argument("--no-metrics", action="store_true", help="serve no endpoints")
        command.add_argument(
            "--segment",
            type=int,
            help="run only this segment (the parts between Kafka-topic edges; see plan)",
        )
        command.add_argument(
            "--on-sigterm",
            choices=["stop", "drain"],
            default="stop",
            help="stop: pending event-time timers do not fire (default); drain: send the "
            "final watermark first, firing them (Flink's stop --drain)",
        )


def _dev_commands() -> Any:
    """The development commands (``broker``, ``topics``), or ``None`` if not installed."""
    try:
        return importlib.import_module(_DEV_COMMANDS)
    except ImportError:
        return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamrt", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_job_commands(commands)
    dev = _dev_commands()
    if dev is not None:
        dev.add_commands(commands)
    return parser


@contextlib.contextmanager
def _reported(verbose: bool) -> Iterator[None]:
    """Turn an error into one line on stderr (and the traceback with ``--verbose``)."""
    try:
        yield
    except StreamrtError as exc:
        if verbose:
            traceback.print_exc()
        print(f"streamrt: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streamrt`` command."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = _parser().parse_args(argv)
    try:
        with _reported(getattr(args, "verbose", False)):
            if args.command == "run":
                return _cmd_run(args)
            if args.command == "plan":
                return _cmd_plan(args)
            dev = _dev_commands()
            assert dev is not None  # the parser only knows these commands when present
            status: int = dev.run(args)
            return status
    except SystemExit as exit_:
        return int(exit_.code or 0)


if __name__ == "__main__":
    sys.exit(main())
