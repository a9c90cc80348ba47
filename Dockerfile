# Elyune: one image for the API (`elyune serve`) and the workers (`elyune worker`).

# ---- build: install the project and its dependencies into a virtual environment -------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/elyune
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/elyune/bin/pip install --upgrade pip setuptools wheel \
 && /opt/elyune/bin/pip install .

# ---- run: slim runtime with the system ffmpeg, as a non-root user ---------------------
FROM python:3.11-slim AS run
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin elyune \
 && mkdir -p /var/lib/elyune && chown elyune:elyune /var/lib/elyune
COPY --from=build /opt/elyune /opt/elyune
ENV PATH=/opt/elyune/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FFMPEG_PATH=/usr/bin/ffmpeg \
    ELYUNE_DATA_DIR=/var/lib/elyune \
    HOST=0.0.0.0 \
    PORT=8000
USER elyune
WORKDIR /var/lib/elyune
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
ENTRYPOINT ["tini", "--"]
CMD ["elyune", "serve"]
