# webhook-sim: the simulator server, with its SQLite data on a volume.
#
# Build:  docker build -t webhook-sim .
#         (podman or buildah: add --format docker, or the OCI format they default to drops the HEALTHCHECK)
# Run:    docker run -p 8080:8080 -e WEBHOOK_SIM_TOKEN=<token> -v webhook-sim-data:/data webhook-sim
# A bind-mounted /data must be writable by uid 10001 (the image's `sim` user): `chown 10001 ./data` first.

# -- build: wheels of everything the project needs, then the project's own wheel, in folders of their own --------
FROM python:3.12.8-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The dependencies first, in their own layer: a change to the sources does not rebuild them. (The project's wheel
# built here is of an empty package; only the dependencies' wheels are kept.)
COPY pyproject.toml README.md ./
RUN mkdir -p simulator scenarios \
    && touch simulator/__init__.py \
    && pip wheel --wheel-dir /wheels/deps . \
    && rm /wheels/deps/webhook_sim-*.whl
COPY simulator ./simulator
COPY scenarios ./scenarios
RUN pip wheel --no-deps --wheel-dir /wheels/app .

# -- run: the wheels installed into a virtual environment, nothing else of the source tree -----------------------
FROM python:3.12.8-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/webhook-sim/bin:$PATH \
    WEBHOOK_SIM_HOST=0.0.0.0 \
    WEBHOOK_SIM_PORT=8080 \
    WEBHOOK_SIM_DB=sqlite:////data/webhook-sim.db
RUN useradd --uid 10001 --no-create-home --home-dir /data sim \
    && mkdir -p /data \
    && chown sim:sim /data
# The dependencies in a layer of their own here too: the same wheels give the same layer, so a change to the
# sources rebuilds (and a registry pulls again) only the small layer of the project's wheel below.
COPY --from=build /wheels/deps /tmp/deps
RUN python -m venv /opt/webhook-sim \
    && /opt/webhook-sim/bin/pip install --no-index /tmp/deps/*.whl \
    && rm -rf /tmp/deps
COPY --from=build /wheels/app /tmp/app
RUN /opt/webhook-sim/bin/pip install --no-index --no-deps /tmp/app/*.whl \
    && rm -rf /tmp/app
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# The API listens on 0.0.0.0 in here, so `serve` needs a bearer token and exits (status 2) without one:
#   docker run -e WEBHOOK_SIM_TOKEN=<token> …
#   docker run -v "$PWD/token:/run/secrets/webhook-sim-token:ro" \
#              -e WEBHOOK_SIM_TOKEN_FILE=/run/secrets/webhook-sim-token …
# Only a throwaway container on a network nobody else reaches should set WEBHOOK_SIM_INSECURE_NO_TOKEN=1 instead.
# The health check asks the port the server was told to use (WEBHOOK_SIM_PORT), not a fixed one.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/health' % os.environ.get('WEBHOOK_SIM_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(url, timeout=2).status == 200 else 1)"]
CMD ["webhook-sim", "serve"]
