"""``streamrt``: run a job as a long-lived service, or print its plan.

    streamrt run  module:function [--parallelism N] [--job-name NAME] [--segment N]
                  [--metrics-host 0.0.0.0] [--metrics-port 9249 | --no-metrics]
    streamrt plan module:function [--format text|mermaid|json]

``function(env)`` builds the pipeline on the ``StreamExecutionEnvironment`` it is given. ``run``
executes it until it finishes, serving ``/metrics``, ``/healthz``, ``/readyz`` and ``/job`` on
the metrics port (0 picks a free one); SIGTERM stops it gracefully (sources stop, everything in
flight is flushed, offsets are committed), Ctrl-C cancels it (exit status 130).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from metrics.exporter import DEFAULT_METRICS_PORT, MetricsServer
from streamrt.environment import StreamExecutionEnvironment, run_event_loop
from streamrt.errors import ConfigError, StreamrtError
from streamrt.runtime.job import Job, JobExecutionResult

__all__ = ["load_builder", "main"]

logger = logging.getLogger("streamrt")


def load_builder(target: str) -> Callable[[StreamExecutionEnvironment], Any]:
    """Import ``module:function`` (the current directory is importable, as with uvicorn).

    Raises:
        ConfigError: the target is malformed, the module or function does not exist, or the
            function is not callable.
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
    return builder  # type: ignore[no-any-return]


def _environment(args: argparse.Namespace) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment()
    if args.parallelism is not None:
        env.set_parallelism(args.parallelism)
    load_builder(args.target)(env)
    return env


async def _run(
    env: StreamExecutionEnvironment, job_name: str, args: argparse.Namespace
) -> JobExecutionResult:
    job: Job = env.create_job(job_name, segment=args.segment)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: job.stop(drain=False))
    server: MetricsServer | None = None
    try:
        if not args.no_metrics:
            server = await MetricsServer(
                job, host=args.metrics_host, port=args.metrics_port
            ).start()
            print(f"streamrt: metrics at {server.url}/metrics", file=sys.stderr, flush=True)
        return await job.run()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if server is not None:
            await server.stop()


def _cmd_run(args: argparse.Namespace) -> int:
    env = _environment(args)
    name = args.job_name or args.target
    try:
        result = run_event_loop(lambda: _run(env, name, args))
    except KeyboardInterrupt:
        print(f"streamrt: job {name!r} cancelled by Ctrl-C", file=sys.stderr)
        return 130
    print(
        f"streamrt: job {name!r} finished in {result.net_runtime_seconds:.2f} s",
        file=sys.stderr,
    )
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    env = _environment(args)
    print(env.get_execution_plan(args.job_name or args.target, args.format), end="")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamrt", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("run", "run a job until it finishes"), ("plan", "print the plan")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("target", help="module:function that builds the job on an env")
        command.add_argument("--parallelism", type=int, help="default parallelism")
        command.add_argument("--job-name", help="the job's name (default: the target)")
        if name == "plan":
            command.add_argument("--format", choices=["text", "mermaid", "json"], default="text")
        else:
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streamrt`` command."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args)
        return _cmd_plan(args)
    except StreamrtError as exc:
        print(f"streamrt: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
