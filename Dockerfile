# One image for every q2c service; docker-compose.yml picks the module by its command:
#   docker run q2c python -m quote_service
# Dependencies come from uv.lock only (uv pinned as in the Makefile), the process runs as a
# non-root user, and the repository layout is kept (/app/deploy/kafka/topics.yaml is the catalog).
FROM python:3.11-slim

ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir --disable-pip-version-check uv==${UV_VERSION}

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1

WORKDIR /app
# The third-party dependencies first, from the lock alone (a layer that survives source
# edits; --frozen because the members' pyproject.toml are not there yet), then the workspace.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-progress --no-install-workspace
COPY libs libs
COPY services services
COPY deploy deploy
RUN uv sync --frozen --no-dev --no-progress

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin q2c
USER q2c

CMD ["python", "-m", "q2c_localstack", "--help"]
