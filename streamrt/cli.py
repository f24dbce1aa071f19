"""``streamrt``: run a job as a long-lived service, print its plan, develop against Kafka.

    streamrt run  module:function [--parallelism N] [--job-name NAME] [--segment N]
                  [--metrics-host 0.0.0.0] [--metrics-port 9249 | --no-metrics]
                  [--on-sigterm stop|drain] [--stall-timeout 60] [--on-stall exit|report]
                  [--verbose]
    streamrt plan module:function [--format text|mermaid|json]
    streamrt savepoint --url http://HOST:9249 [DIR]
    streamrt stop --url http://HOST:9249 [--savepoint [DIR]] [--drain]
    streamrt broker [--port 9092] [--topic NAME[:PARTITIONS]]...   (development broker)
    streamrt topics --bootstrap HOST:PORT create|list|produce|tail ...

``function(env)`` builds the pipeline on the ``StreamExecutionEnvironment`` it is given (or
takes no argument and calls ``StreamExecutionEnvironment.get_execution_environment()``, which
returns the same environment). ``run`` executes it until it finishes, serving ``/metrics``,
``/healthz``, ``/readyz`` and ``/job`` on the metrics port (0 picks a free one). If the builder
calls ``env.execute()`` itself (the PyFlink habit), that call runs the job as this service and
``run`` does not run it again. SIGTERM stops gracefully (sources stop, everything in flight is
flushed, offsets are committed; ``--on-sigterm drain`` also fires every pending event-time
timer), Ctrl-C cancels (exit status 130); a SIGTERM before the job runs (while the builder runs
or a checkpoint is restored) exits 0 without starting it. A job whose event loop is blocked, or
that reads nothing while its consumer lag grows, for ``--stall-timeout`` seconds exits 70
(``streamrt.watchdog``). Errors are one line on stderr and exit status 1; ``--verbose`` adds the
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from metrics.exporter import DEFAULT_METRICS_PORT
from streamrt.control import post_control
from streamrt.environment import StreamExecutionEnvironment, run_event_loop
from streamrt.errors import ConfigError, StreamrtError
from streamrt.runtime.job import JobExecutionResult
from streamrt.service import ServiceOptions, SigtermBeforeStart, run_service
from streamrt.watchdog import DEFAULT_STALL_TIMEOUT_S, EXIT_STALLED

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


def _sigterm_before_start(signum: int, frame: object) -> None:
    msg = "SIGTERM before the job started"
    raise SigtermBeforeStart(msg)


def _cmd_run(args: argparse.Namespace) -> int:
    # From here until run_service installs its own handler in the event loop, SIGTERM
    # interrupts importing and building (as Ctrl-C does) and nothing is started.
    previous = signal.signal(signal.SIGTERM, _sigterm_before_start)
    try:
        return _run_job(args)
    except SigtermBeforeStart:
        print("streamrt: SIGTERM before the job started: nothing was run", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _run_job(args: argparse.Namespace) -> int:
    env = _environment(args)
    builder = load_builder(args.target)
    results: list[JobExecutionResult] = []

    def execute_as_service(env: StreamExecutionEnvironment, name: str) -> JobExecutionResult:
        options = ServiceOptions.from_args(args)
        result: JobExecutionResult = run_event_loop(
            lambda: run_service(env, args.job_name or name, options)
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


def _cmd_savepoint(args: argparse.Namespace) -> int:
    body = {"directory": args.directory}
    answer = post_control(args.url, "savepoint", body, args.token, args.timeout)
    print(answer["path"])
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    savepoint: str | bool | None = args.savepoint
    body = {"savepoint": savepoint, "drain": args.drain}
    answer = post_control(args.url, "stop", body, args.token, args.timeout)
    print(answer.get("path") or "stopping", file=sys.stdout)
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
        _add_state_options(command)
        _add_watchdog_options(command)


def _add_watchdog_options(command: Any) -> None:
    watchdog = command.add_argument_group("stall watchdog (streamrt.watchdog)")
    watchdog.add_argument(
        "--stall-timeout",
        type=float,
        default=DEFAULT_STALL_TIMEOUT_S,
        metavar="S",
        help="fail when the event loop is blocked, or no record is read while the consumer "
        f"lag grows, for S seconds (default {DEFAULT_STALL_TIMEOUT_S:g}; 0: off)",
    )
    watchdog.add_argument(
        "--on-stall",
        choices=["exit", "report"],
        default="exit",
        help=f"exit: end the process with status {EXIT_STALLED} so it is restarted (default); "
        "report: only answer 503 on /healthz (for a liveness probe)",
    )


def _add_state_options(command: Any) -> None:
    state = command.add_argument_group("checkpoints and restarts")
    state.add_argument(
        "--checkpoint-dir",
        help="where checkpoints are kept (default ./checkpoints/<job name>, when the job "
        "checkpoints)",
    )
    state.add_argument(
        "--checkpoint-interval", type=int, metavar="MS", help="enable checkpointing every MS"
    )
    start = state.add_mutually_exclusive_group()
    start.add_argument("--from-savepoint", metavar="PATH", help="restore from this savepoint")
    start.add_argument(
        "--fresh", action="store_true", help="ignore existing checkpoints: start without state"
    )
    state.add_argument(
        "--allow-non-restored-state",
        action="store_true",
        help="drop the state of operators the job no longer has instead of failing",
    )
    state.add_argument(
        "--restart-strategy",
        metavar="SPEC",
        help="none | fixed-delay[:attempts=N,delay_ms=MS] | exponential-delay[:...] | "
        "failure-rate[:...] (default: exponential-delay when checkpointing, else none)",
    )
    state.add_argument(
        "--shutdown-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="on SIGTERM, exit non-zero if the job has not stopped after S seconds (default 10)",
    )
    state.add_argument(
        "--control-token",
        default=os.environ.get("STREAMRT_CONTROL_TOKEN"),
        help="allow control requests (savepoint, stop) from other hosts with this bearer "
        "token (default: $STREAMRT_CONTROL_TOKEN; without one, only from loopback)",
    )
    state.add_argument(
        "--savepoint-dir", help="where savepoints go by default (./savepoints/<job name>)"
    )


def _add_control_commands(commands: Any) -> None:
    savepoint = commands.add_parser("savepoint", help="take a savepoint of a running job")
    stop = commands.add_parser("stop", help="stop a running job gracefully")
    for command in (savepoint, stop):
        command.add_argument(
            "--url", required=True, help="the job's endpoint address, e.g. http://127.0.0.1:9249"
        )
        command.add_argument("--token", help="the job's control token (or STREAMRT_CONTROL_TOKEN)")
        command.add_argument(
            "--timeout", type=float, default=120.0, help="seconds to wait (default 120)"
        )
        command.add_argument("--verbose", action="store_true", help="show tracebacks")
    savepoint.add_argument("directory", nargs="?", help="where to write it (the job's default)")
    stop.add_argument(
        "--savepoint",
        nargs="?",
        const=True,
        default=None,
        metavar="DIR",
        help="take a final savepoint (into DIR, else the job's default) and print its path",
    )
    stop.add_argument(
        "--drain", action="store_true", help="fire every pending event-time timer first"
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
    _add_control_commands(commands)
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
            if args.command == "savepoint":
                return _cmd_savepoint(args)
            if args.command == "stop":
                return _cmd_stop(args)
            dev = _dev_commands()
            assert dev is not None  # the parser only knows these commands when present
            status: int = dev.run(args)
            return status
    except SystemExit as exit_:
        return int(exit_.code or 0)


if __name__ == "__main__":
    sys.exit(main())
