"""Restart strategies: Flink's decisions and waits, driven by an injected clock (no sleeping)."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable

import pytest

from streamrt.errors import ConfigError
from streamrt.runtime.restart_strategy import (
    ExponentialDelayRestartStrategy,
    ExponentialDelaySpec,
    FailureRateRestartStrategy,
    FixedDelayRestartStrategy,
    FixedDelaySpec,
    NoRestartSpec,
    NoRestartStrategy,
    RestartStrategy,
    RestartStrategyFactory,
    RestartStrategySpec,
    default_restart_strategy,
    exponential_delay,
    failure_rate,
    fixed_delay,
    no_restart,
    parse_restart_strategy,
)

# 1000 * 1.5**n truncated, until the 60 s cap
FLINK_DEFAULT_BACKOFFS = [
    1000, 1500, 2250, 3375, 5062, 7593, 11390, 17085, 25628, 38443, 57665, 60000, 60000,
]  # fmt: skip


def run_and_fail(strategy: RestartStrategy, failures: int, run_ms: int = 10) -> list[int]:
    """The job loop on a fake clock: start, run run_ms, fail, wait the backoff, restart, ..."""
    now = 0
    strategy.notify_running(now)
    backoffs = []
    for _ in range(failures):
        now += run_ms
        strategy.notify_failure(now)
        assert strategy.can_restart()
        backoff = strategy.backoff_ms()
        backoffs.append(backoff)
        now += backoff
        strategy.notify_running(now)
    return backoffs


def no_jitter(**kwargs: int | float) -> RestartStrategy:
    return ExponentialDelaySpec(jitter=0.0, **kwargs).create()  # type: ignore[arg-type]


# ---- exponential-delay ----------------------------------------------------------------------


def test_exponential_backoff_grows_by_the_multiplier_up_to_the_max() -> None:
    assert run_and_fail(no_jitter(), len(FLINK_DEFAULT_BACKOFFS)) == FLINK_DEFAULT_BACKOFFS


def test_exponential_backoff_with_other_parameters() -> None:
    strategy = exponential_delay(initial_ms=100, max_ms=1000, multiplier=2, jitter=0).create()
    assert run_and_fail(strategy, 6) == [100, 200, 400, 800, 1000, 1000]


def test_exponential_multiplier_one_keeps_the_initial_backoff() -> None:
    assert run_and_fail(no_jitter(initial_ms=500, multiplier=1.0), 5) == [500] * 5


def test_exponential_backoff_stays_at_the_max_without_overflow() -> None:
    strategy = exponential_delay(max_ms=5000, multiplier=1000.0, jitter=0).create()
    assert run_and_fail(strategy, 3000) == [1000] + [5000] * 2999


def test_exponential_can_always_restart() -> None:
    strategy = exponential_delay().create()
    assert strategy.can_restart()
    run_and_fail(strategy, 100)  # asserts can_restart() after each failure
    assert strategy.can_restart()


def test_exponential_backoff_is_zero_before_any_failure() -> None:
    assert exponential_delay().create().backoff_ms() == 0


def test_failures_before_the_pending_restart_are_merged_into_one_attempt() -> None:
    strategy = no_jitter()
    strategy.notify_failure(0)  # restart pending at 1000
    assert strategy.backoff_ms() == 1000
    strategy.notify_failure(400)  # another task of the same run
    assert strategy.backoff_ms() == 600  # what is left of the same wait
    strategy.notify_failure(1000)  # at the restart time: still merged (Flink's now <= next)
    assert strategy.backoff_ms() == 0
    strategy.notify_failure(1001)  # past it, with no restart reported: a new attempt
    assert strategy.backoff_ms() == 1500
    assert strategy.can_restart()


def test_a_failure_after_the_restart_is_never_merged() -> None:
    strategy = no_jitter()
    strategy.notify_failure(0)
    strategy.notify_running(1000)
    strategy.notify_failure(1000)  # the new run failed at once, same millisecond
    assert strategy.backoff_ms() == 1500


def test_an_early_restart_ends_the_merge_window() -> None:
    strategy = no_jitter()
    strategy.notify_failure(0)
    strategy.notify_running(10)  # restarted before the pending time
    strategy.notify_failure(20)
    assert strategy.backoff_ms() == 1500


def grown_to_2250(strategy: RestartStrategy) -> int:
    """Fail three times quickly (backoffs 1000, 1500, 2250); return the restart time."""
    assert run_and_fail(strategy, 3) == [1000, 1500, 2250]
    return 10 + 1000 + 10 + 1500 + 10 + 2250


def test_backoff_resets_after_running_reset_after_ms_without_failure() -> None:
    strategy = no_jitter(reset_after_ms=10_000)
    restarted = grown_to_2250(strategy)
    strategy.notify_failure(restarted + 10_000)
    assert strategy.backoff_ms() == 1000
    strategy.notify_running(restarted + 11_000)
    strategy.notify_failure(restarted + 11_010)
    assert strategy.backoff_ms() == 1500  # grows again from the initial value


def test_backoff_keeps_growing_just_below_reset_after_ms() -> None:
    strategy = no_jitter(reset_after_ms=10_000)
    restarted = grown_to_2250(strategy)
    strategy.notify_failure(restarted + 9_999)
    assert strategy.backoff_ms() == 3375


def test_without_notify_running_the_run_is_measured_from_the_pending_restart_time() -> None:
    # Flink's measure: now - nextRestartTimestamp >= threshold
    strategy = no_jitter(reset_after_ms=10_000)
    strategy.notify_failure(0)  # restart at 1000
    strategy.notify_failure(10_999)
    assert strategy.backoff_ms() == 1500  # restart at 12_499
    strategy.notify_failure(22_499)
    assert strategy.backoff_ms() == 1000


def test_the_last_notify_running_starts_the_failure_free_period() -> None:
    strategy = no_jitter(reset_after_ms=10_000)
    strategy.notify_failure(0)
    strategy.notify_running(1000)
    strategy.notify_running(5000)  # e.g. a second start reported later: counts from here
    strategy.notify_failure(14_999)
    assert strategy.backoff_ms() == 1500


def test_jitter_stays_within_its_bounds_and_the_cap() -> None:
    spec = exponential_delay(rng=random.Random(42))
    strategy = spec.create()
    backoffs = run_and_fail(strategy, 2000)
    for n, backoff in enumerate(backoffs):
        base = min(int(1000 * 1.5 ** min(n, 20)), 60_000)
        spread = int(base * 0.1)
        assert max(1000, base - spread) <= backoff <= min(60_000, base + spread)
    capped = backoffs[20:]
    assert 54_000 <= min(capped) < max(capped) <= 60_000  # jitter persists at the cap
    assert len(set(capped)) > 100
    assert max(backoffs[1:10]) > min(backoffs[1:10])


def test_jitter_is_spread_both_ways_below_the_cap() -> None:
    strategy = exponential_delay(
        initial_ms=10_000, max_ms=1_000_000, multiplier=1.0, jitter=0.5, rng=random.Random(3)
    ).create()
    backoffs = run_and_fail(strategy, 1000)
    # multiplier 1 keeps the base at 10_000; the initial value is the floor
    assert min(backoffs) == 10_000
    assert 14_000 < max(backoffs) <= 15_000


def test_full_jitter_stays_between_initial_and_max() -> None:
    strategy = exponential_delay(jitter=1.0, rng=random.Random(5)).create()
    backoffs = run_and_fail(strategy, 500)
    assert all(1000 <= b <= 60_000 for b in backoffs)
    assert min(backoffs[20:]) == 1000
    assert max(backoffs[20:]) == 60_000


def test_a_seeded_rng_gives_a_reproducible_sequence() -> None:
    first = run_and_fail(exponential_delay(rng=random.Random(7)).create(), 30)
    second = run_and_fail(exponential_delay(rng=random.Random(7)).create(), 30)
    assert first == second
    assert first != FLINK_DEFAULT_BACKOFFS[:30]


def test_zero_jitter_draws_nothing_from_the_rng() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    run_and_fail(exponential_delay(jitter=0, rng=rng).create(), 20)
    assert state == rng.getstate()


def test_each_create_starts_from_the_initial_backoff() -> None:
    spec = exponential_delay(jitter=0)
    assert run_and_fail(spec.create(), 3) == [1000, 1500, 2250]
    assert run_and_fail(spec.create(), 2) == [1000, 1500]


# ---- fixed-delay ----------------------------------------------------------------------------


def test_fixed_delay_allows_exactly_attempts_restarts() -> None:
    strategy = fixed_delay(attempts=3, delay_ms=500).create()
    assert strategy.can_restart()
    for now in (10, 20, 30):
        strategy.notify_failure(now)
        assert strategy.can_restart()
        assert strategy.backoff_ms() == 500
        strategy.notify_running(now + 500)  # running does not give attempts back
    strategy.notify_failure(10_000_000)
    assert not strategy.can_restart()


def test_fixed_delay_defaults_to_one_restart_after_one_second() -> None:
    strategy = fixed_delay().create()
    strategy.notify_failure(0)
    assert (strategy.can_restart(), strategy.backoff_ms()) == (True, 1000)
    strategy.notify_failure(5000)
    assert not strategy.can_restart()


def test_fixed_delay_with_zero_attempts_fails_on_the_first_failure() -> None:
    strategy = fixed_delay(attempts=0, delay_ms=0).create()
    strategy.notify_failure(0)
    assert not strategy.can_restart()


def test_fixed_delay_counts_every_failure_without_merging() -> None:
    strategy = fixed_delay(attempts=2).create()
    for now in (0, 1, 2):  # three failures within one backoff
        strategy.notify_failure(now)
    assert not strategy.can_restart()


def test_each_create_has_all_attempts_again() -> None:
    spec = fixed_delay(attempts=1)
    used = spec.create()
    used.notify_failure(0)
    used.notify_failure(1)
    assert not used.can_restart()
    fresh = spec()
    fresh.notify_failure(2)
    assert fresh.can_restart()


# ---- failure-rate ---------------------------------------------------------------------------


def test_failure_rate_allows_max_failures_per_interval() -> None:
    strategy = failure_rate(max_failures=2, interval_ms=1000, delay_ms=300).create()
    strategy.notify_failure(0)
    assert strategy.can_restart()
    strategy.notify_failure(500)
    assert strategy.can_restart()
    assert strategy.backoff_ms() == 300
    strategy.notify_failure(1000)  # a 3rd failure with the oldest exactly interval_ms ago
    assert not strategy.can_restart()


def test_failure_rate_allows_a_failure_just_past_the_interval() -> None:
    strategy = failure_rate(max_failures=2, interval_ms=1000).create()
    for now in (0, 500, 1001):
        strategy.notify_failure(now)
    assert strategy.can_restart()
    strategy.notify_failure(1500)  # window now 500, 1001, 1500
    assert not strategy.can_restart()
    strategy.notify_failure(2502)  # window 1001, 1500, 2502: the oldest fell out of reach
    assert strategy.can_restart()


def test_failure_rate_defaults_to_one_failure_per_minute() -> None:
    strategy = failure_rate().create()
    strategy.notify_failure(0)
    assert (strategy.can_restart(), strategy.backoff_ms()) == (True, 1000)
    strategy.notify_failure(60_000)
    assert not strategy.can_restart()

    strategy = failure_rate().create()
    for now in (0, 60_001, 120_002, 180_003):
        strategy.notify_failure(now)
        assert strategy.can_restart()
        strategy.notify_running(now + 1000)  # running does not empty the window


def test_failure_rate_can_restart_before_any_failure() -> None:
    assert failure_rate().create().can_restart()


# ---- none -----------------------------------------------------------------------------------


def test_no_restart_never_restarts() -> None:
    strategy = no_restart().create()
    strategy.notify_running(0)
    strategy.notify_failure(10)
    assert (strategy.can_restart(), strategy.backoff_ms()) == (False, 0)


# ---- defaults, factories, specs -------------------------------------------------------------


def test_default_is_exponential_delay_with_checkpointing_and_none_without() -> None:
    assert default_restart_strategy(checkpointing=True) == exponential_delay()
    assert default_restart_strategy(checkpointing=False) == no_restart()


def test_flink_defaults() -> None:
    assert fixed_delay() == FixedDelaySpec(attempts=1, delay_ms=1000)
    assert str(failure_rate()) == "failure-rate:max_failures=1,interval_ms=60000,delay_ms=1000"
    spec = exponential_delay()
    actual = (spec.initial_ms, spec.max_ms, spec.multiplier, spec.reset_after_ms, spec.jitter)
    assert actual == (1000, 60_000, 1.5, 3_600_000, 0.1)


def test_specs_are_factories_of_fresh_strategies() -> None:
    factories: list[RestartStrategyFactory] = [
        no_restart(),
        fixed_delay(),
        exponential_delay(),
        failure_rate(),
        lambda: fixed_delay(attempts=5).create(),  # a plain callable is a factory too
    ]
    kinds = [
        NoRestartStrategy,
        FixedDelayRestartStrategy,
        ExponentialDelayRestartStrategy,
        FailureRateRestartStrategy,
        FixedDelayRestartStrategy,
    ]
    for factory, kind in zip(factories, kinds, strict=True):
        first, second = factory(), factory()
        assert isinstance(first, kind)
        assert first is not second


def test_specs_are_frozen_hashable_values() -> None:
    spec = fixed_delay(attempts=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.attempts = 4  # type: ignore[misc]
    assert {fixed_delay(attempts=3), spec} == {spec}
    assert repr(spec) == "FixedDelaySpec(attempts=3, delay_ms=1000)"
    assert isinstance(spec, RestartStrategySpec)


def test_the_rng_is_left_out_of_equality_and_repr() -> None:
    seeded = exponential_delay(rng=random.Random(1))
    assert seeded == exponential_delay()
    assert "rng" not in repr(seeded)
    assert "rng" not in str(seeded)


def test_a_given_rng_is_shared_by_every_created_strategy() -> None:
    rng = random.Random(9)
    spec = exponential_delay(rng=rng)
    run_and_fail(spec.create(), 5)
    state = rng.getstate()
    run_and_fail(spec.create(), 5)
    assert state != rng.getstate()


def test_an_int_multiplier_is_stored_as_a_float() -> None:
    spec = exponential_delay(multiplier=2)
    assert isinstance(spec.multiplier, float)
    assert "multiplier=2.0" in str(spec)
    assert parse_restart_strategy("exponential-delay:multiplier=2") == spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (no_restart(), "none"),
        (fixed_delay(), "fixed-delay (1 attempt, 1000 ms)"),
        (fixed_delay(attempts=3, delay_ms=1000), "fixed-delay (3 attempts, 1000 ms)"),
        (
            exponential_delay(),
            "exponential-delay (1000 ms to 60000 ms, x1.5, jitter 0.1, reset after 3600000 ms)",
        ),
        (
            exponential_delay(initial_ms=10, max_ms=10, multiplier=2, jitter=0),
            "exponential-delay (10 ms to 10 ms, x2, jitter 0, reset after 3600000 ms)",
        ),
        (failure_rate(), "failure-rate (1 failure per 60000 ms, 1000 ms)"),
        (failure_rate(3, 300_000, 10_000), "failure-rate (3 failures per 300000 ms, 10000 ms)"),
    ],
)
def test_describe(spec: RestartStrategySpec, expected: str) -> None:
    assert spec.describe() == expected
    assert spec.create().describe() == expected


# ---- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: fixed_delay(attempts=-1),
            "restart strategy 'fixed-delay': attempts must be an int >= 0; got -1",
        ),
        (
            lambda: fixed_delay(attempts=True),
            "restart strategy 'fixed-delay': attempts must be an int >= 0; got True",
        ),
        (
            lambda: fixed_delay(attempts=1.5),  # type: ignore[arg-type]
            "restart strategy 'fixed-delay': attempts must be an int >= 0; got 1.5",
        ),
        (
            lambda: fixed_delay(delay_ms=-5),
            "restart strategy 'fixed-delay': delay_ms must be an int >= 0; got -5",
        ),
        (
            lambda: exponential_delay(initial_ms=0),
            "restart strategy 'exponential-delay': initial_ms must be an int >= 1; got 0",
        ),
        (
            lambda: exponential_delay(max_ms=0),
            "restart strategy 'exponential-delay': max_ms must be an int >= 1; got 0",
        ),
        (
            lambda: exponential_delay(max_ms=500),
            "restart strategy 'exponential-delay': max_ms must be >= initial_ms (1000); got 500",
        ),
        (
            lambda: exponential_delay(multiplier=0.5),
            "restart strategy 'exponential-delay': multiplier must be a finite number >= 1; "
            "got 0.5",
        ),
        (
            lambda: exponential_delay(multiplier=math.inf),
            "restart strategy 'exponential-delay': multiplier must be a finite number >= 1; "
            "got inf",
        ),
        (
            lambda: exponential_delay(multiplier="2"),  # type: ignore[arg-type]
            "restart strategy 'exponential-delay': multiplier must be a finite number >= 1; "
            "got '2'",
        ),
        (
            lambda: exponential_delay(reset_after_ms=0),
            "restart strategy 'exponential-delay': reset_after_ms must be an int >= 1; got 0",
        ),
        (
            lambda: exponential_delay(jitter=1.5),
            "restart strategy 'exponential-delay': jitter must be a finite number in [0, 1]; "
            "got 1.5",
        ),
        (
            lambda: exponential_delay(jitter=-0.1),
            "restart strategy 'exponential-delay': jitter must be a finite number in [0, 1]; "
            "got -0.1",
        ),
        (
            lambda: exponential_delay(jitter=math.nan),
            "restart strategy 'exponential-delay': jitter must be a finite number in [0, 1]; "
            "got nan",
        ),
        (
            lambda: failure_rate(max_failures=0),
            "restart strategy 'failure-rate': max_failures must be an int >= 1; got 0",
        ),
        (
            lambda: failure_rate(interval_ms=0),
            "restart strategy 'failure-rate': interval_ms must be an int >= 1; got 0",
        ),
        (
            lambda: failure_rate(delay_ms=-1),
            "restart strategy 'failure-rate': delay_ms must be an int >= 0; got -1",
        ),
    ],
)
def test_invalid_arguments_are_named_with_the_value(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make()
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_boundary_values_are_valid() -> None:
    fixed_delay(attempts=0, delay_ms=0)
    exponential_delay(initial_ms=1, max_ms=1, multiplier=1, reset_after_ms=1, jitter=0)
    exponential_delay(jitter=1)
    failure_rate(max_failures=1, interval_ms=1, delay_ms=0)


# ---- parse_restart_strategy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("none", NoRestartSpec()),
        ("off", NoRestartSpec()),
        ("disable", NoRestartSpec()),
        (" NONE ", NoRestartSpec()),
        ("fixed-delay", fixed_delay()),
        ("fixed-delay:", fixed_delay()),
        ("fixed-delay:attempts=3,delay_ms=500", fixed_delay(attempts=3, delay_ms=500)),
        ("Fixed-Delay: attempts = 3 , delay_ms=500", fixed_delay(attempts=3, delay_ms=500)),
        ("fixeddelay:delay_ms=1_000", fixed_delay(delay_ms=1000)),
        ("exponential-delay", exponential_delay()),
        (
            "exponential-delay:initial_ms=10,max_ms=100,multiplier=2,reset_after_ms=5000,jitter=0",
            exponential_delay(
                initial_ms=10, max_ms=100, multiplier=2.0, reset_after_ms=5000, jitter=0.0
            ),
        ),
        ("exponentialdelay:jitter=0.25", exponential_delay(jitter=0.25)),
        ("failure-rate", failure_rate()),
        (
            "failure-rate:max_failures=3,interval_ms=300000,delay_ms=10000",
            failure_rate(max_failures=3, interval_ms=300_000, delay_ms=10_000),
        ),
        ("failurerate:max_failures=2", failure_rate(max_failures=2)),
    ],
)
def test_parse(text: str, expected: RestartStrategySpec) -> None:
    assert parse_restart_strategy(text) == expected


@pytest.mark.parametrize(
    "spec",
    [
        no_restart(),
        fixed_delay(),
        fixed_delay(attempts=7, delay_ms=0),
        exponential_delay(),
        exponential_delay(initial_ms=3, max_ms=999, multiplier=1.1, jitter=0.33),
        exponential_delay(multiplier=1 / 0.7, jitter=1 / 3),  # repr keeps every float exact
        failure_rate(),
        failure_rate(max_failures=4, interval_ms=1, delay_ms=2),
    ],
)
def test_str_and_parse_round_trip(spec: RestartStrategySpec) -> None:
    parsed = parse_restart_strategy(str(spec))
    assert parsed == spec
    assert str(parsed) == str(spec)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "restart",
            "unknown restart strategy 'restart' in 'restart'; "
            "valid: none (also off, disable), fixed-delay, exponential-delay, failure-rate",
        ),
        (
            "",
            "unknown restart strategy '' in ''; "
            "valid: none (also off, disable), fixed-delay, exponential-delay, failure-rate",
        ),
        (
            "fixed_delay:attempts=1",
            "unknown restart strategy 'fixed_delay' in 'fixed_delay:attempts=1'; "
            "valid: none (also off, disable), fixed-delay, exponential-delay, failure-rate",
        ),
        (
            "fixed-delay:attempt=3",
            "unknown parameter 'attempt' for restart strategy 'fixed-delay'; "
            "valid: attempts, delay_ms",
        ),
        (
            "exponential-delay:delay_ms=3",
            "unknown parameter 'delay_ms' for restart strategy 'exponential-delay'; "
            "valid: initial_ms, max_ms, multiplier, reset_after_ms, jitter",
        ),
        (
            "failure-rate:attempts=3",
            "unknown parameter 'attempts' for restart strategy 'failure-rate'; "
            "valid: max_failures, interval_ms, delay_ms",
        ),
        ("off:attempts=1", "restart strategy 'off' takes no parameters; got 'off:attempts=1'"),
        ("none:", "restart strategy 'none' takes no parameters; got 'none:'"),
        (
            "fixed-delay:attempts",
            "restart strategy parameter 'attempts' in 'fixed-delay:attempts' is not key=value",
        ),
        (
            "fixed-delay:attempts=3,",
            "restart strategy parameter '' in 'fixed-delay:attempts=3,' is not key=value",
        ),
        (
            "fixed-delay:=3",
            "restart strategy parameter '=3' in 'fixed-delay:=3' is not key=value",
        ),
        (
            "fixed-delay:attempts=3,attempts=4",
            "restart strategy parameter 'attempts' is given twice in "
            "'fixed-delay:attempts=3,attempts=4'",
        ),
        (
            "fixed-delay:attempts=three",
            "restart strategy 'fixed-delay': attempts must be an int; got 'three'",
        ),
        (
            "fixed-delay:delay_ms=1.5",
            "restart strategy 'fixed-delay': delay_ms must be an int; got '1.5'",
        ),
        (
            "exponential-delay:jitter=abc",
            "restart strategy 'exponential-delay': jitter must be a number; got 'abc'",
        ),
        (
            "exponential-delay:jitter=2",
            "restart strategy 'exponential-delay': jitter must be a finite number in [0, 1]; "
            "got 2.0",
        ),
        (
            "fixed-delay:attempts=-1",
            "restart strategy 'fixed-delay': attempts must be an int >= 0; got -1",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_restart_strategy(text)
    assert str(caught.value) == message
