# syntax=docker/dockerfile:1
# d2l-playground in one image: `d2l-playground serve` by default, `d2l-playground worker` for the scale-out
# workers (compose.yaml). Build arguments:
#   TORCH_INDEX_URL      where torch==2.13.0 comes from. Default: PyTorch's CPU-only index (about 200 MB).
#                        CUDA: https://pypi.org/simple, whose Linux x86_64 torch 2.13.0 is the CUDA build
#                        (compose.gpu.yaml does this). The pin is the one scripts/test.sh installs.
#   FETCH_FASHION_MNIST  1 (default): download Fashion-MNIST at build time, MD5-verified, so the container
#                        trains on it offline; 0: skip (image sets then fall back to the bundled digits
#                        until `d2l-playground data fetch fashion-mnist` runs in the container).
#   PYTHON_IMAGE         the base image of both stages.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# ---- build: a virtual environment with torch first, then the project, as scripts/test.sh installs them.
FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv
# torch alone first, from the chosen index: on PyPI an unpinned Linux torch is a multi-GB CUDA build.
RUN python3 -m pip install --quiet --disable-pip-version-check --index-url "$TORCH_INDEX_URL" torch==2.13.0
# Editable, as the tests install it (without the test extra): the app finds templates/ and static/ beside
# its package directory, so the source tree is the installed tree and the runtime stage keeps it in place.
WORKDIR /opt/d2l-playground/src
COPY pyproject.toml README.md ./
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN python3 -m pip install --quiet --disable-pip-version-check -e . \
    && python3 -m compileall -q app

# ---- runtime: the same environment, a non-root user, the datasets baked in.
FROM ${PYTHON_IMAGE} AS runtime
ARG FETCH_FASHION_MNIST=1
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PLAYGROUND_DATA_DIR=/opt/d2l-playground/data \
    PLAYGROUND_DATABASE_URL=sqlite:////var/lib/d2l-playground/runs.sqlite3
RUN groupadd --system --gid 10001 playground \
    && useradd --system --uid 10001 --gid playground --home-dir /var/lib/d2l-playground \
       --no-create-home --shell /usr/sbin/nologin playground \
    && install -d -o playground -g playground /opt/d2l-playground/data /var/lib/d2l-playground
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/d2l-playground/src /opt/d2l-playground/src
USER playground
WORKDIR /var/lib/d2l-playground
RUN if [ "$FETCH_FASHION_MNIST" = "1" ]; then \
        d2l-playground data fetch fashion-mnist; \
    else \
        echo "FETCH_FASHION_MNIST=$FETCH_FASHION_MNIST: Fashion-MNIST not baked in"; \
    fi
# The run store (SQLite by default); keep it on a volume. Datasets stay in the image.
VOLUME ["/var/lib/d2l-playground"]
EXPOSE 8000
# Liveness of `serve`; a `worker` container serves no HTTP: run it with --no-healthcheck (compose.yaml
# disables the check for its workers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["d2l-playground", "serve", "--host", "0.0.0.0", "--port", "8000"]
