"""Keys to key groups to subtasks, identically in every process.

Port of Flink's ``KeyGroupRangeAssignment``: ``key -> key group in [0, max_parallelism)`` by a
hash, and ``key group -> subtask`` by contiguous ranges (``kg * parallelism // max_parallelism``),
so that keyed state can later move between subtasks group by group when parallelism changes.

Python's ``hash()`` is salted per process for ``str`` and ``bytes``, and a job spans processes
through Kafka, so keys are hashed with ``stable_hash``: CRC-32 of the UTF-8 bytes for strings,
the (unsalted) numeric hash for numbers, and a combination for tuples, dataclasses and enums,
finished with MurmurHash3's 32-bit mixer as Flink does. This function is part of the on-disk
and on-topic contract: changing it moves keys between subtasks.
"""

from __future__ import annotations

import dataclasses
import enum
import zlib
from collections.abc import Callable
from typing import Any, Final

from streamrt.errors import RecordError
from streamrt.runtime.config import UPPER_BOUND_MAX_PARALLELISM, check_max_parallelism

__all__ = [
    "DEFAULT_MAX_PARALLELISM",
    "KEY_CACHE_LIMIT",
    "KeyGroupAssigner",
    "assign_to_key_group",
    "checked_key_selector",
    "compute_default_max_parallelism",
    "key_group_range",
    "operator_index_for_key_group",
    "stable_hash",
]

DEFAULT_MAX_PARALLELISM: Final = 128
#: keys a per-key cache (of key groups, of channels) remembers before it starts over
KEY_CACHE_LIMIT: Final = 1 << 16
_MASK: Final = 0xFFFFFFFF
_dataclass_fields: dict[type, tuple[str, ...]] = {}


def compute_default_max_parallelism(parallelism: int) -> int:
    """Flink's default: next power of two of ``1.5 * parallelism``, clamped to [128, 32768]."""
    target = parallelism + parallelism // 2
    power = 1 << max(0, (target - 1).bit_length())
    return min(max(power, DEFAULT_MAX_PARALLELISM), UPPER_BOUND_MAX_PARALLELISM)


def _murmur_fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    return h ^ (h >> 16)


def stable_hash(key: Any) -> int:
    """A 32-bit hash of ``key`` that is the same in every Python process.

    Raises:
        RecordError: the key's type has no stable hash (e.g. a plain object whose ``hash``
            depends on its address); use str, bytes, numbers, tuples, dataclasses or enums.
    """
    t = type(key)
    if t is str:
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))
    if t is int or t is bool or t is float:
        return hash(key) & _MASK  # numeric hashes are not salted
    if t is bytes or t is bytearray:
        return zlib.crc32(key)
    if key is None:
        return 0
    if t is tuple or isinstance(key, tuple):
        h = 0x345678
        for item in key:
            h = ((h * 1000003) ^ stable_hash(item)) & _MASK
        return h
    if isinstance(key, enum.Enum):
        return stable_hash(key.value)
    if dataclasses.is_dataclass(key):
        names = _dataclass_fields.get(t)
        if names is None:
            names = _dataclass_fields[t] = tuple(f.name for f in dataclasses.fields(key))
        return stable_hash(tuple(getattr(key, n) for n in names))
    msg = (
        f"key {key!r} of type {t.__qualname__} has no stable hash across processes; "
        "key_by must return str, bytes, int, float, bool, None, a tuple, a dataclass or an enum"
    )
    raise RecordError(msg)


def key_group_range(max_parallelism: int, parallelism: int, index: int) -> range:
    """The contiguous key groups subtask ``index`` owns (Flink's ``computeKeyGroupRange...``)."""
    start = (index * max_parallelism + parallelism - 1) // parallelism
    end = ((index + 1) * max_parallelism - 1) // parallelism
    return range(start, end + 1)


def operator_index_for_key_group(max_parallelism: int, parallelism: int, key_group: int) -> int:
    """Which subtask owns ``key_group``."""
    return key_group * parallelism // max_parallelism


class KeyGroupAssigner:
    """Maps keys to key groups, caching the result per key (keys repeat; hashing is not free).

    Args:
        max_parallelism: number of key groups, in [1, 32768].
    """

    __slots__ = ("_cache", "max_parallelism")

    def __init__(self, max_parallelism: int) -> None:
        self.max_parallelism = check_max_parallelism(max_parallelism)
        self._cache: dict[Any, int] = {}

    def key_group(self, key: Any) -> int:
        """The key group of ``key``."""
        try:
            return self._cache[key]
        except KeyError:
            pass
        except TypeError:
            raise _unhashable(key) from None
        group = assign_to_key_group(key, self.max_parallelism)
        if len(self._cache) >= KEY_CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = group
        return group


def assign_to_key_group(key: Any, max_parallelism: int) -> int:
    """The key group of ``key``, uncached (``KeyGroupAssigner`` caches it).

    Raises:
        RecordError: ``key`` is not hashable, or has no stable hash.
    """
    try:
        hash(key)
    except TypeError:
        raise _unhashable(key) from None
    return _murmur_fmix32(stable_hash(key)) % max_parallelism


def _unhashable(key: Any) -> RecordError:
    msg = (
        f"key {key!r:.200} of type {type(key).__qualname__} is not hashable; keyed state "
        "needs hashable keys (return a tuple or a frozen dataclass from key_by)"
    )
    return RecordError(msg)


#: key types that are always hashable: no check needed
_HASHABLE_TYPES: Final = frozenset({str, int, bytes, float, bool, type(None)})


def checked_key_selector(selector: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``selector`` that refuses an unhashable key with a ``RecordError`` saying so.

    Applied once, where ``key_by`` takes the selector, so every use of the key (partitioning at
    any parallelism, keyed state, timers) sees the same precise error.
    """

    def key_of(value: Any) -> Any:
        key = selector(value)
        if type(key) not in _HASHABLE_TYPES:
            try:
                hash(key)
            except TypeError:
                raise _unhashable(key) from None
        return key

    return key_of
