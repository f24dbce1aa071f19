"""Job settings: their defaults and their validation, in one place.

``JobConfig`` is the one home of every job-wide setting: ``StreamExecutionEnvironment`` takes
its defaults from here and builds one; the job, its deployment and its tasks read it. The
``check_*`` helpers are the one validation of a value that is also set per operator
(``set_parallelism``), so every message has the same form: what must hold, what was received,
and for which operator.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamrt.errors import ConfigError, GraphError
from streamrt.runtime.checkpoint_storage import CheckpointStorage
from streamrt.runtime.restart_strategy import RestartStrategySpec, default_restart_strategy

__all__ = [
    "UPPER_BOUND_MAX_PARALLELISM",
    "JobConfig",
    "check_int",
    "check_max_parallelism",
    "check_parallelism",
]

#: Flink's upper bound for max parallelism (the number of key groups).
UPPER_BOUND_MAX_PARALLELISM = 32_768


def _fail(msg: str, operator: str | None) -> ConfigError | GraphError:
    # a job-wide setting is a ConfigError; an operator's, raised while the graph is being
    # built, a GraphError naming the operator
    if operator is None:
        return ConfigError(msg)
    return GraphError(f"{msg} for {operator!r}")


def check_int(name: str, value: object, minimum: int, operator: str | None = None) -> int:
    """``value`` if it is an int >= ``minimum`` (not a bool).

    Raises:
        ConfigError: otherwise, naming the setting and the value.
        GraphError: the same, for the setting of ``operator``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{name} must be an int >= {minimum}; got {value!r}"
        raise _fail(msg, operator)
    return value


def check_parallelism(value: object, operator: str | None = None) -> int:
    """A valid parallelism (an int >= 1), job-wide or of ``operator``."""
    return check_int("parallelism", value, 1, operator)


def check_max_parallelism(value: object, operator: str | None = None) -> int:
    """A valid max parallelism (an int in [1, 32768]), job-wide or of ``operator``.

    Raises:
        ConfigError: otherwise (``GraphError`` for an operator's).
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= UPPER_BOUND_MAX_PARALLELISM
    ):
        msg = f"max_parallelism must be in [1, {UPPER_BOUND_MAX_PARALLELISM}]; got {value!r}"
        raise _fail(msg, operator)
    return value


@dataclass(frozen=True)
class JobConfig:
    """How a job is built and runs; validated when created.

    Attributes:
        parallelism: default parallelism of every operator (``set_parallelism`` overrides).
        max_parallelism: number of key groups; ``None`` derives it from the parallelism
            (at least 128, Flink's rule).
        chaining: whether operators may be chained (``disable_operator_chaining``).
        object_reuse: pass records between chained operators without copying values. Faster;
            safe only if no function mutates a value it received or keeps one it emitted.
        buffer_timeout_ms: how long records may wait in a channel buffer: > 0 flush at that
            interval (Flink's 100 ms); 0 flush after every record; -1 only when full.
        buffer_size: records per channel buffer.
        channel_capacity: buffers a channel holds before its producer waits.
        auto_watermark_interval_ms: how often sources emit watermarks (Flink's 200 ms).
        latency_tracking_interval_ms: sources emit latency markers this often (0 = off).
        checkpoint_interval_ms: time between checkpoints; ``None`` = checkpointing off.
        checkpoint_timeout_ms: a checkpoint not complete by then fails (Flink's 10 min).
        checkpoint_storage: where completed checkpoints are kept; ``None``: in memory only
            (a restarted process starts empty).
        restart_strategy: what a failed job does; ``None``: Flink's default (exponential
            delay with checkpointing, no restart without).
        allow_non_restored_state: restoring drops the state of operators the job no longer
            has instead of failing.
    """

    parallelism: int = 1
    max_parallelism: int | None = None
    chaining: bool = True
    object_reuse: bool = False
    buffer_timeout_ms: int = 100
    buffer_size: int = 512
    channel_capacity: int = 4
    auto_watermark_interval_ms: int = 200
    latency_tracking_interval_ms: int = 0
    checkpoint_interval_ms: int | None = None
    checkpoint_timeout_ms: int = 600_000
    checkpoint_storage: CheckpointStorage | None = None
    restart_strategy: RestartStrategySpec | None = None
    allow_non_restored_state: bool = False

    def __post_init__(self) -> None:
        check_parallelism(self.parallelism)
        if self.max_parallelism is not None:
            check_max_parallelism(self.max_parallelism)
        timeout = self.buffer_timeout_ms
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < -1:
            msg = f"buffer_timeout_ms must be -1, 0 or a positive int; got {timeout!r}"
            raise ConfigError(msg)
        check_int("buffer_size", self.buffer_size, 1)
        check_int("channel_capacity", self.channel_capacity, 1)
        check_int("auto_watermark_interval_ms", self.auto_watermark_interval_ms, 0)
        check_int("latency_tracking_interval_ms", self.latency_tracking_interval_ms, 0)
        if self.checkpoint_interval_ms is not None:
            check_int("checkpoint interval_ms", self.checkpoint_interval_ms, 10)
        check_int("checkpoint timeout_ms", self.checkpoint_timeout_ms, 1)
        for name in ("chaining", "object_reuse", "allow_non_restored_state"):
            if not isinstance(getattr(self, name), bool):
                msg = f"{name} must be True or False; got {getattr(self, name)!r}"
                raise ConfigError(msg)

    @property
    def effective_restart_strategy(self) -> RestartStrategySpec:
        """The restart strategy in force: the configured one, else Flink's default."""
        if self.restart_strategy is not None:
            return self.restart_strategy
        return default_restart_strategy(self.checkpoint_interval_ms is not None)

    @property
    def channel_buffer_size(self) -> int:
        """Records per channel buffer as run: 1 when every record is flushed at once."""
        return 1 if self.buffer_timeout_ms == 0 else self.buffer_size
