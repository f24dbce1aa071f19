# The streamrt demo image: the runtime installed from this repo, plus examples/ (not a package of
# the distribution) in the working directory, which `streamrt run` puts on sys.path.
#
#   docker build -t streamrt-demo .
#   docker run --rm -e KAFKA_BOOTSTRAP=host:9092 -p 9249:9249 streamrt-demo
#
# Every dependency ships manylinux wheels for CPython 3.11 on x86_64 and aarch64, so the slim
# image needs no compiler.
#
# The base image should be pinned by digest too (a tag can be re-pushed). It is not yet: the
# digest must be looked up where a registry is reachable, then written as
# `FROM python:3.11.11-slim-bookworm@sha256:<digest>`:
#   docker buildx imagetools inspect python:3.11.11-slim-bookworm   (the "Digest:" line: the
#   multi-platform index, so x86_64 and aarch64 builds both resolve)
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The dependencies first, in their own layer, exactly as locked (versions and hashes; how to
# regenerate the lock is in its header): editing the source does not reinstall them.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock

# Then the distribution alone (--no-deps: everything it needs is installed above), from a
# scratch folder that is dropped: the running job imports the installed streamrt, operators
# and metrics, never a second copy from the working directory.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streamrt/ streamrt/
COPY operators/ operators/
COPY metrics/ metrics/
RUN pip install --no-cache-dir --no-deps . && rm -rf /src

WORKDIR /app
COPY examples/ examples/

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app streamrt \
    && mkdir -p /var/lib/streamrt/checkpoints \
    && chown -R streamrt:streamrt /var/lib/streamrt
# a named volume mounted here starts with this directory's owner (docker-compose.yml)
VOLUME /var/lib/streamrt/checkpoints
USER streamrt

# /metrics, /healthz, /readyz and /job.
EXPOSE 9249
# SIGTERM stops the job gracefully: a final checkpoint, in-flight records flushed, offsets committed.
STOPSIGNAL SIGTERM
CMD ["streamrt", "run", "examples.orders_demo:build", "--job-name", "orders-demo", "--parallelism", "2", "--metrics-port", "9249", "--checkpoint-dir", "/var/lib/streamrt/checkpoints"]
