# samplerr, the service (`samplerr run`), in a slim image.
#
#   docker build -t samplerr .
#   docker run --rm -p 9108:9108 \
#     -v "$PWD/archives.toml:/etc/samplerr/archives.toml:ro" \
#     -v samplerr-state:/var/lib/samplerr \
#     -e SAMPLERR_ELASTICSEARCH_HOSTS=http://elasticsearch:9200 \
#     -e SAMPLERR_KAFKA_BOOTSTRAP_SERVERS=kafka:9092 \
#     samplerr                      # = samplerr run; any other command works too: samplerr check …
#
# Configuration: mount archives.toml at /etc/samplerr/archives.toml (without it the embedded default,
# the original samplerr synopsis, is used) and override any key with SAMPLERR_<SECTION>_<KEY>
# variables. An unknown SAMPLERR_ variable is refused at start, so typos do not pass silently.
# /var/lib/samplerr holds the checkpoints of the open windows ([service] checkpoint = "fs"): keep it
# on a volume so that a new container resumes where the old one stopped.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY samplerr ./samplerr
RUN python -m pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="samplerr" \
      org.opencontainers.image.description="Round-robin metric archives in Elasticsearch" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 samplerr \
 && useradd --system --uid 10001 --gid samplerr --home-dir /var/lib/samplerr --shell /usr/sbin/nologin samplerr \
 && mkdir -p /etc/samplerr /var/lib/samplerr \
 && chown samplerr:samplerr /var/lib/samplerr \
 && chmod 0750 /var/lib/samplerr
COPY --from=build /wheels /wheels
RUN python -m pip install /wheels/*.whl && rm -rf /wheels
# Listen on every interface of the container (the default, 127.0.0.1, is unreachable from outside).
ENV SAMPLERR_SERVICE_LISTEN=0.0.0.0:9108
WORKDIR /var/lib/samplerr
VOLUME ["/var/lib/samplerr"]
USER samplerr:samplerr
EXPOSE 9108
# curl is not in the slim image: ask /healthz with Python, on the port of SAMPLERR_SERVICE_LISTEN.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request\nport = os.environ.get('SAMPLERR_SERVICE_LISTEN', '127.0.0.1:9108').rsplit(':', 1)[1]\ntry:\n    answer = urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)\nexcept Exception as exc:\n    sys.exit(f'unhealthy: {exc}')\nsys.exit(0 if answer.status == 200 else 1)"]
# SIGTERM: stop consuming, write what is final, checkpoint, commit, exit within [service]
# shutdown_timeout (30 s by default): give `docker stop` more than that (--time 45).
STOPSIGNAL SIGTERM
ENTRYPOINT ["samplerr"]
CMD ["run"]
