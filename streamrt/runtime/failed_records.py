"""What happens to a record whose user function raised: the error policy of an operator.

``"fail"`` (the default) stops the job with an ``OperatorError`` naming the operator.
``"skip"`` counts the record in the operator's ``errors`` counter, logs it (rate-limited) and
goes on. ``"side_output"`` counts it too and emits a ``FailedRecord`` to the side output
``FAILED_RECORDS``, from where it can go to a dead-letter topic like any other stream. Nothing
is dropped without being counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from streamrt.errors import ConfigError
from streamrt.runtime.output_tag import OutputTag

__all__ = ["FAILED_RECORDS", "ErrorPolicy", "FailedRecord", "check_error_policy", "worth_logging"]

ErrorPolicy = Literal["fail", "skip", "side_output"]
_POLICIES: Final = ("fail", "skip", "side_output")


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """A record a user function could not handle, with why.

    Attributes:
        value: the record's value as the function received it.
        operator / subtask: where it failed.
        error_type / error_message: the exception's class name and message.
        timestamp: the record's event timestamp.
    """

    value: Any
    operator: str
    subtask: int
    error_type: str
    error_message: str
    timestamp: int | None = None


#: The side output failed records go to under ``on_error("side_output")``.
FAILED_RECORDS: Final = OutputTag[FailedRecord]("streamrt.failed-records")


def check_error_policy(policy: object, operator: str) -> ErrorPolicy:
    """``policy`` if it is one; otherwise a ``ConfigError`` naming the operator."""
    if policy not in _POLICIES:
        msg = f"on_error must be 'fail', 'skip' or 'side_output'; got {policy!r} for {operator!r}"
        raise ConfigError(msg)
    return policy


def worth_logging(failures: int) -> bool:
    """Whether to log the ``failures``-th failed record: the first ten, then every 1000th.

    A stream of bad records must not flood the log; the counters have the exact numbers.
    """
    return failures <= 10 or failures % 1000 == 0
