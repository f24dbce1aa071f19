"""Functions copied in the form of PyFlink's own tests (flink-python test_data_stream.py).

Only their imports differ from PyFlink: they are untyped, as PyFlink's are, so mypy skips this
module. The tests that run them check the outputs PyFlink's tests expect.
"""
# mypy: ignore-errors

from collections import defaultdict

from streamrt import (
    BroadcastProcessFunction,
    CoProcessFunction,
    KeyedBroadcastProcessFunction,
    OutputTag,
    RuntimeContext,
)

TAG = OutputTag("side")


class MyCoProcessFunction(CoProcessFunction):
    """PyFlink's test_co_process_side_output function, only its imports changed."""

    def process_element1(self, value, ctx: "CoProcessFunction.Context"):
        yield value[0]
        yield TAG, value[1]

    def process_element2(self, value, ctx: "CoProcessFunction.Context"):
        yield value[1]
        yield TAG, value[0]


def _create_string(s, t):
    return f"value: {s}, ts: {t}"


class MyKeyedBroadcastProcessFunction(KeyedBroadcastProcessFunction):
    """From PyFlink's test_keyed_co_broadcast_process."""

    def __init__(self, map_state_desc):
        self._map_state_desc = map_state_desc
        self._cache = None

    def open(self, runtime_context: RuntimeContext):
        self._cache = defaultdict(list)

    def process_element(self, value, ctx):
        ro_broadcast_state = ctx.get_broadcast_state(self._map_state_desc)
        key = value[0] % 2
        if ro_broadcast_state.contains(key):
            if self._cache.get(key) is not None:
                for v in self._cache[key]:
                    yield _create_string(ro_broadcast_state.get(key) + str(v[0]), v[1])
                self._cache[key].clear()
            yield _create_string(ro_broadcast_state.get(key) + str(value[0]), value[1])
        else:
            self._cache[key].append(value)
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + 10000)

    def process_broadcast_element(self, value, ctx):
        key = value[0]
        yield _create_string(str(key) + value[2], ctx.timestamp())
        broadcast_state = ctx.get_broadcast_state(self._map_state_desc)
        broadcast_state.put(key, value[2])
        if self._cache.get(key) is not None:
            for v in self._cache[key]:
                yield _create_string(value[2] + str(v[0]), v[1])
            self._cache[key].clear()

    def on_timer(self, timestamp: int, ctx):
        yield _create_string(ctx.get_current_key(), timestamp)


class MyBroadcastProcessFunction(BroadcastProcessFunction):
    """From PyFlink's test_co_broadcast_side_output."""

    def process_element(self, value, ctx):
        yield value[0]
        yield TAG, value[1]

    def process_broadcast_element(self, value, ctx):
        yield value[1]
        yield TAG, value[0]
