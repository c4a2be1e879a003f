# syntax=docker/dockerfile:1
# One image runs every agent: `holded-sync worker` (default), `replay`, `sandbox holded`, `demo`...
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # app/avro.py reads schemas/ next to the package (Path(__file__).parents[1]); putting the
    # source tree first on the path makes `app` import from /app, where schemas/ lives, and not
    # from the copy `pip install .` leaves in site-packages.
    PYTHONPATH=/app \
    # Listen on every interface: probes, Prometheus and webhooks come from outside the container.
    HOLDED_SYNC_WEB_HOST=0.0.0.0 \
    HOLDED_SYNC_WEB_PORT=6066 \
    HOLDED_SYNC_DATA_DIR=/var/lib/holded-sync

# Fixed numeric uid/gid so Kubernetes `runAsNonRoot` can verify it and the volume's fsGroup matches.
RUN groupadd --system --gid 10001 holded \
 && useradd --system --uid 10001 --gid holded --home-dir /app --shell /usr/sbin/nologin holded \
 && install -d -o holded -g holded -m 0750 /var/lib/holded-sync

WORKDIR /app

# Dependencies in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The whole tree (code + schemas/), then the package itself for the console script.
COPY . .
RUN pip install --no-deps . \
 && rm -rf build ./*.egg-info \
 && python -c "import pathlib, app; assert (pathlib.Path(app.__file__).parents[1] / 'schemas').is_dir(), app.__file__"

USER 10001:10001
VOLUME ["/var/lib/holded-sync"]
EXPOSE 6066

# Liveness only: /healthz answers while the event loop runs. /readyz (partitions assigned, tables
# recovered) is for the orchestrator's readiness probe, not for restarting the container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HOLDED_SYNC_WEB_PORT', '6066'), timeout=4)"]

ENTRYPOINT ["holded-sync"]
CMD ["worker"]
