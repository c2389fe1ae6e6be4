# syntax=docker/dockerfile:1
# Groundwork production image: multi-stage, slim, non-root, CPU-only torch, gunicorn.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
# The CPU build of torch from PyTorch's CPU index; everything else from PyPI.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    GROUNDWORK_VAR_DIR=/var/lib/groundwork \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 groundwork \
    && mkdir -p /var/lib/groundwork /app/staticfiles && chown groundwork /var/lib/groundwork /app /app/staticfiles
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=groundwork . /app
USER groundwork
# collectstatic needs settings: a throwaway key, a database URL that is never
# contacted, and a scratch var dir (the real one is a volume at run time).
# The question path's ONNX graph is exported from the bundled weights at build
# time, so no container pays for it. The file is named by the model's digest:
# a container given another EMBEDDING_MODEL_PATH exports its own (and says so
# if /app/models is not writable).
ENV EMBEDDING_ONNX_DIR=/app/models
RUN SECRET_KEY=build-only DATABASE_URL=postgresql://build@localhost/build GROUNDWORK_VAR_DIR=/tmp/build-var \
    sh -c "python manage.py collectstatic --noinput && python manage.py export_onnx" && rm -rf /tmp/build-var
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD curl -fsS http://127.0.0.1:${PORT}/healthz || exit 1
# One process per container; the model (~500 MB) loads once per gunicorn worker. The workers are
# uvicorn's (config/asgi_worker.py): pages on WEB_THREADS threads, live-event streams on the loop.
CMD ["sh", "-c", "gunicorn config.asgi:application --worker-class config.asgi_worker.Worker --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-2} --timeout 60 --graceful-timeout 10 --access-logfile -"]
