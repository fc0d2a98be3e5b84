# webhook-sim: the simulator server, with its SQLite data on a volume.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WEBHOOK_SIM_HOST=0.0.0.0 \
    WEBHOOK_SIM_PORT=8080 \
    WEBHOOK_SIM_DB=sqlite:////data/webhook-sim.db

RUN useradd --create-home --uid 10001 sim \
    && mkdir -p /data /app \
    && chown sim:sim /data /app

WORKDIR /app
COPY --chown=sim:sim . /app
USER sim
# The same install step as the README's scripts/serve: a .venv in the source tree.
RUN scripts/install

VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/app/.venv/bin/python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2).status == 200 else 1)"]
CMD ["/app/.venv/bin/webhook-sim", "serve"]
