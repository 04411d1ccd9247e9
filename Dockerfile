# MyHibachi's one image: `myhibachi serve` by default; compose.yaml runs the same image as worker, scheduler and the
# one-shot migration. Slim base, dependencies installed in a build stage, runs as an unprivileged user.
# Not built on the project's machines (they run no Docker engine): build and try it where one runs.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# every dependency is pinned in pyproject.toml and ships wheels for this Python: no compiler in the image
RUN /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production HOST=0.0.0.0 PORT=8000
# HOST=0.0.0.0: inside the container, the container's network is the boundary; publish no app port on the host, put
# the TLS proxy in front (compose.yaml) and set FORWARDED_ALLOW_IPS to the proxy's addresses only.
RUN useradd --system --uid 10001 --create-home --home-dir /app myhibachi
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER myhibachi
EXPOSE 8000
# Liveness without curl: the image's own Python asks /health (which checks nothing but the process).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', timeout=4)"]
CMD ["myhibachi", "serve"]
