"""JSON parse and serialize: the stdlib against orjson and streamrt's ready-made JSON serde.

Over the 200k order lines ``bench.chain_throughput`` makes (as UTF-8 bytes, as a Kafka source
hands them over), each round times, alternately and in one process: parse every line
(``loads``), serialize every parsed order to bytes (``dumps``), and both in one pass (``loads +
dumps``), with the stdlib (``json.loads``, ``json.dumps(...).encode()``), with orjson called
directly, and with ``json_deserializer``/``json_serializer`` (orjson plus the checks that keep
the stdlib's values). Prints records/s and the ratio to the stdlib measured in the same round
(median over rounds, with the min-max of the per-round ratios).

    python -m bench.json_serde [--records N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench.chain_throughput import make_lines
from streamrt.connectors.kafka import json_deserializer, json_serializer

Loads = Callable[[bytes], Any]
Dumps = Callable[[Any], bytes]


def stdlib_dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


IMPLEMENTATIONS: dict[str, tuple[Loads, Dumps]] = {
    "stdlib json": (json.loads, stdlib_dumps),
    "orjson": (orjson.loads, orjson.dumps),
    "streamrt json serde": (json_deserializer, json_serializer),
}


def run_loads(loads: Loads, lines: list[bytes]) -> int:
    return sum(1 for line in lines if loads(line) is not None)


def run_dumps(dumps: Dumps, orders: list[Any]) -> int:
    return sum(len(dumps(order)) > 0 for order in orders)


def run_both(loads: Loads, dumps: Dumps, lines: list[bytes]) -> int:
    return sum(len(dumps(loads(line))) > 0 for line in lines)


def timed(fn: Callable[[], int], n: int) -> float:
    gc.collect()
    start = time.perf_counter()
    done = fn()
    seconds = time.perf_counter() - start
    if done != n:
        raise SystemExit(f"handled {done} of {n} records")
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lines = [line.encode() for line in make_lines(args.records)]
    orders = [json.loads(line) for line in lines]
    for line, order in zip(lines[:1000], orders[:1000], strict=True):  # same values, all three
        for loads, dumps in IMPLEMENTATIONS.values():
            if loads(line) != order or json.loads(dumps(order)) != order:
                raise SystemExit(f"{loads.__name__}/{dumps.__name__} disagree on {line!r}")
    works: dict[str, Callable[[Loads, Dumps], Callable[[], int]]] = {
        "loads": lambda loads, dumps: lambda: run_loads(loads, lines),
        "dumps": lambda loads, dumps: lambda: run_dumps(dumps, orders),
        "loads + dumps": lambda loads, dumps: lambda: run_both(loads, dumps, lines),
    }
    rates: dict[tuple[str, str], list[float]] = {}
    ratios: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for work, make in works.items():
            base = 0.0
            for name, (loads, dumps) in IMPLEMENTATIONS.items():
                rate = timed(make(loads, dumps), args.records)
                base = base or rate  # the stdlib runs first in each round
                rates.setdefault((work, name), []).append(rate)
                ratios.setdefault((work, name), []).append(rate / base)
    print(f"{args.records} order lines ({len(lines[0])} bytes each), {args.rounds} rounds, median")
    print(f"{'work':14} {'implementation':20} {'records/s':>12} {'ratio':>7} {'ratio min-max':>14}")
    for work in works:
        for name in IMPLEMENTATIONS:
            rs = ratios[work, name]
            print(
                f"{work:14} {name:20} {statistics.median(rates[work, name]):>12,.0f} "
                f"{statistics.median(rs):>7.2f} {min(rs):>6.2f}-{max(rs):<6.2f}"
            )


if __name__ == "__main__":
    main()
