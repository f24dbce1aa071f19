"""Whether and when a failed job restarts: Flink's restart strategies, as pure logic.

Port of Flink's ``RestartBackoffTimeStrategy`` family (``FixedDelay…``, ``ExponentialDelay…``,
``FailureRate…``, ``NoRestart…``) and of the default chosen by
``RestartBackoffTimeStrategyFactoryLoader`` since Flink 1.19: ``exponential-delay`` with
checkpointing on, ``none`` with it off. Differences: time is passed in, not read from a clock;
no ``attempts-before-reset-backoff`` (exponential delay restarts without limit); the jitter of
exponential delay is applied after the cap (see ``ExponentialDelaySpec``).

Nothing here sleeps or touches asyncio. The job loop drives a strategy::

    strategy = spec.create()            # a fresh one per job execution: strategies keep state
    strategy.notify_running(clock())    # the job started
    ...                                 # a task fails
    strategy.notify_failure(clock())
    if not strategy.can_restart():
        fail the job
    await asyncio.sleep(strategy.backoff_ms() / 1000)
    strategy.notify_running(clock())    # the job restarted
    ...

``now_ms`` values come from one monotonic clock in milliseconds (e.g.
``time.monotonic_ns() // 1_000_000``) and never decrease.

**Specs, not callables.** ``fixed_delay()``, ``exponential_delay()``, ``failure_rate()`` and
``no_restart()`` return a ``RestartStrategySpec``: a frozen, validated, comparable value that
prints as its ``--restart-strategy`` text (``str(spec)``, which ``parse_restart_strategy`` reads
back) and can be stored in a job's configuration. Its ``create()`` builds a fresh stateful
``RestartStrategy``; a spec is also callable (``spec()`` is ``spec.create()``), so every spec is
a ``RestartStrategyFactory`` and the job can equally take a plain ``lambda`` (e.g. a test's
scripted strategy).
"""

from __future__ import annotations

import abc
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Final, Protocol, TypeVar, final

from streamrt.errors import ConfigError

__all__ = [
    "ExponentialDelayRestartStrategy",
    "ExponentialDelaySpec",
    "FailureRateRestartStrategy",
    "FailureRateSpec",
    "FixedDelayRestartStrategy",
    "FixedDelaySpec",
    "NoRestartSpec",
    "NoRestartStrategy",
    "RestartStrategy",
    "RestartStrategyFactory",
    "RestartStrategySpec",
    "default_restart_strategy",
    "exponential_delay",
    "failure_rate",
    "fixed_delay",
    "no_restart",
    "parse_restart_strategy",
]


class RestartStrategy(Protocol):
    """The restart decisions of one job execution (Flink's ``RestartBackoffTimeStrategy``).

    Stateful: build a fresh one per job execution (``RestartStrategySpec.create()``).
    """

    def notify_failure(self, now_ms: int) -> None:
        """Record that a task failed at ``now_ms``."""
        ...

    def can_restart(self) -> bool:
        """Whether the job may restart after the failures notified so far."""
        ...

    def backoff_ms(self) -> int:
        """How long to wait, from the last notified failure, before restarting (0 before any)."""
        ...

    def notify_running(self, now_ms: int) -> None:
        """Record that the job was started or restarted at ``now_ms``."""
        ...

    def describe(self) -> str:
        """A one-line summary for logs and ``/job``: ``"fixed-delay (3 attempts, 1000 ms)"``."""
        ...


#: Builds a fresh ``RestartStrategy`` for one job execution. Every ``RestartStrategySpec`` is one.
RestartStrategyFactory = Callable[[], RestartStrategy]


class RestartStrategySpec(abc.ABC):
    """A validated, immutable restart strategy configuration (Flink's ``…Factory``).

    ``str(spec)`` is its ``--restart-strategy`` text, with every parameter spelled out, and
    ``parse_restart_strategy(str(spec)) == spec``.
    """

    __slots__ = ()

    #: The strategy's name in ``--restart-strategy`` and in ``describe()``.
    name: ClassVar[str]

    @abc.abstractmethod
    def create(self) -> RestartStrategy:
        """A fresh strategy, with no failures recorded, for one job execution."""

    @abc.abstractmethod
    def describe(self) -> str:
        """A one-line summary for logs and ``/job``."""

    @abc.abstractmethod
    def to_text(self) -> str:
        """The ``--restart-strategy`` text that ``parse_restart_strategy`` turns back into this."""

    def __call__(self) -> RestartStrategy:
        """``create()``: makes every spec a ``RestartStrategyFactory``."""
        return self.create()

    def __str__(self) -> str:
        return self.to_text()


# ---- validation (the one place; the specs' __post_init__ call it) -------------------------


def _check_int(strategy: str, arg: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"restart strategy {strategy!r}: {arg} must be an int >= {minimum}; got {value!r}"
        raise ConfigError(msg)


def _check_float(strategy: str, arg: str, value: object, low: float, high: float) -> float:
    if (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and low <= value <= high
    ):
        return float(value)
    rule = f">= {low:g}" if math.isinf(high) else f"in [{low:g}, {high:g}]"
    msg = f"restart strategy {strategy!r}: {arg} must be a finite number {rule}; got {value!r}"
    raise ConfigError(msg)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# ---- none ----------------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class NoRestartSpec(RestartStrategySpec):
    """``none``: the first failure fails the job (Flink's ``NoRestartBackoffTimeStrategy``)."""

    name: ClassVar[str] = "none"

    def create(self) -> NoRestartStrategy:
        """A strategy that never restarts."""
        return NoRestartStrategy()

    def describe(self) -> str:
        """``"none"``."""
        return "none"

    def to_text(self) -> str:
        """``"none"``."""
        return "none"


@final
class NoRestartStrategy:
    """Port of Flink's ``NoRestartBackoffTimeStrategy``: never restarts."""

    def notify_failure(self, now_ms: int) -> None:
        """Nothing to record: the job fails."""

    def can_restart(self) -> bool:
        """Always ``False``."""
        return False

    def backoff_ms(self) -> int:
        """Always 0 (there is no restart to wait for)."""
        return 0

    def notify_running(self, now_ms: int) -> None:
        """Nothing to record."""

    def describe(self) -> str:
        """``"none"``."""
        return "none"


# ---- fixed-delay ---------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class FixedDelaySpec(RestartStrategySpec):
    """``fixed-delay``: restart at most ``attempts`` times, ``delay_ms`` after each failure.

    Attributes:
        attempts: restarts allowed over the job's life; the failure after the last one fails
            the job (0: the first failure does).
        delay_ms: the wait before each restart.
    """

    attempts: int = 1
    delay_ms: int = 1000
    name: ClassVar[str] = "fixed-delay"

    def __post_init__(self) -> None:
        _check_int(self.name, "attempts", self.attempts, 0)
        _check_int(self.name, "delay_ms", self.delay_ms, 0)

    def create(self) -> FixedDelayRestartStrategy:
        """A fresh strategy with no restarts used."""
        return FixedDelayRestartStrategy(self)

    def describe(self) -> str:
        """E.g. ``"fixed-delay (3 attempts, 1000 ms)"``."""
        return f"fixed-delay ({_plural(self.attempts, 'attempt')}, {self.delay_ms} ms)"

    def to_text(self) -> str:
        """E.g. ``"fixed-delay:attempts=3,delay_ms=1000"``."""
        return f"fixed-delay:attempts={self.attempts},delay_ms={self.delay_ms}"


@final
class FixedDelayRestartStrategy:
    """Port of Flink's ``FixedDelayRestartBackoffTimeStrategy``.

    Every notified failure uses up one attempt (there is no merging, as in Flink); the job may
    restart while at most ``attempts`` failures have been notified.
    """

    def __init__(self, spec: FixedDelaySpec) -> None:
        self._spec: Final = spec
        self._failures = 0

    def notify_failure(self, now_ms: int) -> None:
        """Use up one restart attempt."""
        self._failures += 1

    def can_restart(self) -> bool:
        """Whether no more than ``attempts`` failures have been notified."""
        return self._failures <= self._spec.attempts

    def backoff_ms(self) -> int:
        """``delay_ms``."""
        return self._spec.delay_ms

    def notify_running(self, now_ms: int) -> None:
        """Nothing to record: attempts count over the job's whole life."""

    def describe(self) -> str:
        """The spec's ``describe()``."""
        return self._spec.describe()


# ---- exponential-delay ---------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class ExponentialDelaySpec(RestartStrategySpec):
    """``exponential-delay``: restart without limit, the wait growing with each failure.

    The n-th restart since the last reset waits ``initial_ms * multiplier ** (n - 1)`` ms,
    truncated to an int and capped at ``max_ms``, then moved by a jitter drawn uniformly from
    the integers in ``[-j, j]`` with ``j = int(backoff * jitter)``, then clamped to
    ``[initial_ms, max_ms]``. So ``max_ms`` is a hard ceiling, and at the cap restarts spread
    over ``[max_ms * (1 - jitter), max_ms]``. (Flink jitters the uncapped value, so once that is
    well past the cap its waits are all exactly ``max_ms``; capping first keeps the jitter,
    which is there to keep many jobs from restarting in step.)

    Attributes:
        initial_ms: the first wait, and the floor of every wait.
        max_ms: the ceiling of every wait.
        multiplier: the growth of the wait per restart.
        reset_after_ms: after the job ran this long without failing, the wait returns to
            ``initial_ms``.
        jitter: the relative spread of the wait, in [0, 1].
        rng: the random source of the jitter; ``None`` gives each ``create()`` its own
            ``random.Random()``. A given one is shared by every strategy this spec creates.
            It is left out of equality, ``repr`` and ``str``.
    """

    initial_ms: int = 1000
    max_ms: int = 60_000
    multiplier: float = 1.5
    reset_after_ms: int = 3_600_000
    jitter: float = 0.1
    rng: random.Random | None = field(default=None, compare=False, repr=False)
    name: ClassVar[str] = "exponential-delay"

    def __post_init__(self) -> None:
        _check_int(self.name, "initial_ms", self.initial_ms, 1)
        _check_int(self.name, "max_ms", self.max_ms, 1)
        if self.max_ms < self.initial_ms:
            msg = (
                f"restart strategy {self.name!r}: max_ms must be >= initial_ms "
                f"({self.initial_ms}); got {self.max_ms}"
            )
            raise ConfigError(msg)
        # normalized to float so that 2 and 2.0 print and compare alike
        multiplier = _check_float(self.name, "multiplier", self.multiplier, 1.0, math.inf)
        object.__setattr__(self, "multiplier", multiplier)
        _check_int(self.name, "reset_after_ms", self.reset_after_ms, 1)
        jitter = _check_float(self.name, "jitter", self.jitter, 0.0, 1.0)
        object.__setattr__(self, "jitter", jitter)

    def create(self) -> ExponentialDelayRestartStrategy:
        """A fresh strategy whose next wait is ``initial_ms``."""
        rng = random.Random() if self.rng is None else self.rng
        return ExponentialDelayRestartStrategy(self, rng)

    def describe(self) -> str:
        """E.g. ``"exponential-delay (1000 ms to 60000 ms, x1.5, jitter 0.1, reset after …)"``."""
        return (
            f"exponential-delay ({self.initial_ms} ms to {self.max_ms} ms, x{self.multiplier:g}, "
            f"jitter {self.jitter:g}, reset after {self.reset_after_ms} ms)"
        )

    def to_text(self) -> str:
        """E.g. ``"exponential-delay:initial_ms=1000,max_ms=60000,multiplier=1.5,…"``."""
        return (
            f"exponential-delay:initial_ms={self.initial_ms},max_ms={self.max_ms},"
            f"multiplier={self.multiplier!r},reset_after_ms={self.reset_after_ms},"
            f"jitter={self.jitter!r}"
        )


@final
class ExponentialDelayRestartStrategy:
    """Port of Flink's ``ExponentialDelayRestartBackoffTimeStrategy`` (1.19).

    **Merging.** A failure notified while a restart is pending (no ``notify_running`` since the
    last counted failure, and ``now_ms`` at or before that restart's time) is merged into it:
    it starts no new attempt and does not grow the wait; ``backoff_ms()`` then returns what is
    left of the pending wait. A failure after ``notify_running`` always counts: it is a failure
    of the new run.

    **Reset.** A counted failure first checks how long the job ran: from its last
    ``notify_running`` or, if there was none since the previous failure, from that failure's
    scheduled restart time (Flink's measure). At least ``reset_after_ms`` returns the wait to
    ``initial_ms``.

    ``can_restart()`` is always ``True``.
    """

    def __init__(self, spec: ExponentialDelaySpec, rng: random.Random) -> None:
        self._spec: Final = spec
        self._rng: Final = rng
        self._exponent = 0  # of the next counted attempt's wait
        self._restart_at_ms: int | None = None  # when the last counted failure restarts
        self._last_failure_ms: int | None = None
        self._running_since_ms: int | None = None  # set by notify_running, cleared by a failure

    def notify_failure(self, now_ms: int) -> None:
        """Count a new attempt, or merge the failure into the pending one."""
        pending = self._restart_at_ms
        self._last_failure_ms = now_ms
        if pending is not None and self._running_since_ms is None and now_ms <= pending:
            return  # merged: the restart already scheduled covers this failure too
        started = self._running_since_ms if self._running_since_ms is not None else pending
        if started is not None and now_ms - started >= self._spec.reset_after_ms:
            self._exponent = 0
        self._restart_at_ms = now_ms + self._next_backoff()
        self._running_since_ms = None

    def can_restart(self) -> bool:
        """Always ``True``: exponential delay restarts without limit."""
        return True

    def backoff_ms(self) -> int:
        """The wait from the last notified failure to the pending restart (0 before any)."""
        if self._restart_at_ms is None or self._last_failure_ms is None:
            return 0
        return max(0, self._restart_at_ms - self._last_failure_ms)

    def notify_running(self, now_ms: int) -> None:
        """Start the failure-free period that resets the wait, and end any pending merge."""
        self._running_since_ms = now_ms

    def describe(self) -> str:
        """The spec's ``describe()``."""
        return self._spec.describe()

    def _next_backoff(self) -> int:
        spec = self._spec
        raw = spec.initial_ms * spec.multiplier**self._exponent
        if raw < spec.max_ms:
            # stop growing the exponent at the cap, so the power never overflows
            self._exponent += 1
        base = min(int(raw), spec.max_ms)
        spread = int(base * spec.jitter)
        # no draw without jitter, so a shared rng's sequence is not consumed needlessly
        offset = self._rng.randint(-spread, spread) if spread > 0 else 0
        return max(spec.initial_ms, min(base + offset, spec.max_ms))


# ---- failure-rate --------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class FailureRateSpec(RestartStrategySpec):
    """``failure-rate``: restart unless too many failures fall within an interval.

    Attributes:
        max_failures: failures tolerated within any ``interval_ms``; one more fails the job.
        interval_ms: the length of the sliding window.
        delay_ms: the wait before each restart.
    """

    max_failures: int = 1
    interval_ms: int = 60_000
    delay_ms: int = 1000
    name: ClassVar[str] = "failure-rate"

    def __post_init__(self) -> None:
        _check_int(self.name, "max_failures", self.max_failures, 1)
        _check_int(self.name, "interval_ms", self.interval_ms, 1)
        _check_int(self.name, "delay_ms", self.delay_ms, 0)

    def create(self) -> FailureRateRestartStrategy:
        """A fresh strategy with an empty window."""
        return FailureRateRestartStrategy(self)

    def describe(self) -> str:
        """E.g. ``"failure-rate (1 failure per 60000 ms, 1000 ms)"``."""
        return (
            f"failure-rate ({_plural(self.max_failures, 'failure')} per {self.interval_ms} ms, "
            f"{self.delay_ms} ms)"
        )

    def to_text(self) -> str:
        """E.g. ``"failure-rate:max_failures=1,interval_ms=60000,delay_ms=1000"``."""
        return (
            f"failure-rate:max_failures={self.max_failures},interval_ms={self.interval_ms},"
            f"delay_ms={self.delay_ms}"
        )


@final
class FailureRateRestartStrategy:
    """Port of Flink's ``FailureRateRestartBackoffTimeStrategy``.

    Keeps the timestamps of the last ``max_failures + 1`` failures. The job may restart unless
    that window is full and its oldest entry is within ``interval_ms`` of the newest (``newest -
    oldest <= interval_ms``): the ``max_failures + 1``-th failure within an interval fails the
    job. Flink measures against the clock when it asks; here "now" is the last notified
    failure, which is when the job loop asks.
    """

    def __init__(self, spec: FailureRateSpec) -> None:
        self._spec: Final = spec
        self._window: Final[deque[int]] = deque(maxlen=spec.max_failures + 1)

    def notify_failure(self, now_ms: int) -> None:
        """Add ``now_ms`` to the window, dropping its oldest entry when full."""
        self._window.append(now_ms)

    def can_restart(self) -> bool:
        """Whether the failure rate stays within ``max_failures`` per ``interval_ms``."""
        window = self._window
        if len(window) < self._spec.max_failures + 1:
            return True
        return window[-1] - window[0] > self._spec.interval_ms

    def backoff_ms(self) -> int:
        """``delay_ms``."""
        return self._spec.delay_ms

    def notify_running(self, now_ms: int) -> None:
        """Nothing to record: only failures count."""

    def describe(self) -> str:
        """The spec's ``describe()``."""
        return self._spec.describe()


# ---- factories with Flink's defaults -------------------------------------------------------


def no_restart() -> NoRestartSpec:
    """``none``: fail the job on its first failure."""
    return NoRestartSpec()


def fixed_delay(attempts: int = 1, delay_ms: int = 1000) -> FixedDelaySpec:
    """``fixed-delay`` with Flink's defaults (1 attempt, 1 s).

    Raises:
        ConfigError: ``attempts`` or ``delay_ms`` is not an int >= 0.
    """
    return FixedDelaySpec(attempts=attempts, delay_ms=delay_ms)


def exponential_delay(
    initial_ms: int = 1000,
    max_ms: int = 60_000,
    multiplier: float = 1.5,
    reset_after_ms: int = 3_600_000,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> ExponentialDelaySpec:
    """``exponential-delay`` with Flink 1.19's defaults (1 s, x1.5, up to 1 min, ±10 %, 1 h reset).

    Raises:
        ConfigError: ``initial_ms``, ``max_ms`` or ``reset_after_ms`` is not an int >= 1,
            ``max_ms < initial_ms``, ``multiplier`` is not a finite number >= 1, or ``jitter``
            is not in [0, 1].
    """
    return ExponentialDelaySpec(
        initial_ms=initial_ms,
        max_ms=max_ms,
        multiplier=multiplier,
        reset_after_ms=reset_after_ms,
        jitter=jitter,
        rng=rng,
    )


def failure_rate(
    max_failures: int = 1, interval_ms: int = 60_000, delay_ms: int = 1000
) -> FailureRateSpec:
    """``failure-rate`` with Flink's defaults (1 failure per minute, 1 s delay).

    Raises:
        ConfigError: ``max_failures`` or ``interval_ms`` is not an int >= 1, or ``delay_ms``
            is not an int >= 0.
    """
    return FailureRateSpec(max_failures=max_failures, interval_ms=interval_ms, delay_ms=delay_ms)


def default_restart_strategy(checkpointing: bool) -> RestartStrategySpec:
    """Flink 1.19+'s default: ``exponential_delay()`` with checkpointing, ``no_restart()`` without.

    The result is a ``RestartStrategyFactory`` (specs are callable).
    """
    return exponential_delay() if checkpointing else no_restart()


# ---- --restart-strategy --------------------------------------------------------------------

_NONE_NAMES: Final = ("none", "off", "disable")
# Flink also accepts its names without the dash
_NAMES: Final[dict[str, str]] = {
    **dict.fromkeys(_NONE_NAMES, "none"),
    "fixed-delay": "fixed-delay",
    "fixeddelay": "fixed-delay",
    "exponential-delay": "exponential-delay",
    "exponentialdelay": "exponential-delay",
    "failure-rate": "failure-rate",
    "failurerate": "failure-rate",
}
_VALID_NAMES: Final = "none (also off, disable), fixed-delay, exponential-delay, failure-rate"
_N = TypeVar("_N", int, float)
_FLOAT_KEYS: Final = frozenset({"multiplier", "jitter"})
_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "none": (),
    "fixed-delay": ("attempts", "delay_ms"),
    "exponential-delay": ("initial_ms", "max_ms", "multiplier", "reset_after_ms", "jitter"),
    "failure-rate": ("max_failures", "interval_ms", "delay_ms"),
}


def parse_restart_strategy(text: str) -> RestartStrategySpec:
    """The spec named by a ``--restart-strategy`` value.

    The form is ``name`` or ``name:key=value,key=value``; omitted keys take Flink's defaults.
    Names: ``none`` (also ``off``, ``disable``), ``fixed-delay`` (``attempts``, ``delay_ms``),
    ``exponential-delay`` (``initial_ms``, ``max_ms``, ``multiplier``, ``reset_after_ms``,
    ``jitter``), ``failure-rate`` (``max_failures``, ``interval_ms``, ``delay_ms``). Names are
    case-insensitive; spaces around names, keys and values are ignored. ``str(spec)`` gives
    text this reads back to an equal spec.

    Raises:
        ConfigError: an unknown name or key (listing the valid ones), a repeated key, an item
            that is not ``key=value``, a value that is not a number of the right kind, or a
            value out of range.
    """
    head, colon, tail = text.partition(":")
    key_name = head.strip().lower()
    name = _NAMES.get(key_name)
    if name is None:
        msg = f"unknown restart strategy {head.strip()!r} in {text!r}; valid: {_VALID_NAMES}"
        raise ConfigError(msg)
    valid_keys = _KEYS[name]
    ints: dict[str, int] = {}
    floats: dict[str, float] = {}
    items = [item.strip() for item in tail.split(",")] if tail.strip() else []
    if name == "none" and (items or colon):
        msg = f"restart strategy {key_name!r} takes no parameters; got {text!r}"
        raise ConfigError(msg)
    for item in items:
        key, eq, raw = (part.strip() for part in item.partition("="))
        if not eq or not key:
            msg = f"restart strategy parameter {item!r} in {text!r} is not key=value"
            raise ConfigError(msg)
        if key not in valid_keys:
            msg = (
                f"unknown parameter {key!r} for restart strategy {name!r}; "
                f"valid: {', '.join(valid_keys)}"
            )
            raise ConfigError(msg)
        if key in ints or key in floats:
            msg = f"restart strategy parameter {key!r} is given twice in {text!r}"
            raise ConfigError(msg)
        if key in _FLOAT_KEYS:
            floats[key] = _parse_number(name, key, raw, float)
        else:
            ints[key] = _parse_number(name, key, raw, int)
    return _build(name, ints, floats)


def _parse_number(name: str, key: str, raw: str, kind: type[_N]) -> _N:
    try:
        return kind(raw)
    except ValueError:
        what = "an int" if kind is int else "a number"
        msg = f"restart strategy {name!r}: {key} must be {what}; got {raw!r}"
        raise ConfigError(msg) from None


def _build(name: str, ints: dict[str, int], floats: dict[str, float]) -> RestartStrategySpec:
    # omitted keys take the spec's own defaults, so they are written down once
    if name == "fixed-delay":
        fixed = FixedDelaySpec()
        return FixedDelaySpec(
            attempts=ints.get("attempts", fixed.attempts),
            delay_ms=ints.get("delay_ms", fixed.delay_ms),
        )
    if name == "exponential-delay":
        exp = ExponentialDelaySpec()
        return ExponentialDelaySpec(
            initial_ms=ints.get("initial_ms", exp.initial_ms),
            max_ms=ints.get("max_ms", exp.max_ms),
            multiplier=floats.get("multiplier", exp.multiplier),
            reset_after_ms=ints.get("reset_after_ms", exp.reset_after_ms),
            jitter=floats.get("jitter", exp.jitter),
        )
    if name == "failure-rate":
        rate = FailureRateSpec()
        return FailureRateSpec(
            max_failures=ints.get("max_failures", rate.max_failures),
            interval_ms=ints.get("interval_ms", rate.interval_ms),
            delay_ms=ints.get("delay_ms", rate.delay_ms),
        )
    return NoRestartSpec()
