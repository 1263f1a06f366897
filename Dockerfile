# approvalbot: the GitHub App webhook server (gunicorn serving the Flask app).
#
#   docker build -t approvalbot .
#   docker run -p 8080:8080 \
#     -e APPROVALBOT_APP_ID=123456 \
#     -e APPROVALBOT_PRIVATE_KEY=/run/secrets/approvalbot.pem -v "$PWD/app.pem:/run/secrets/approvalbot.pem:ro" \
#     -e APPROVALBOT_WEBHOOK_SECRET=... \
#     -v approvalbot-data:/var/lib/approvalbot approvalbot
#
# Configuration (environment variables; bot/settings.py reads them and refuses to start on a bad value):
#   APPROVALBOT_APP_ID          the GitHub App's numeric id
#   APPROVALBOT_PRIVATE_KEY     the App's private key: a path to a mounted PEM file (a secret) or the PEM text
#   APPROVALBOT_WEBHOOK_SECRET  the webhook secret set in the App's settings (required: no secret, no start)
#   APPROVALBOT_GITHUB_URL      GitHub Enterprise API URL, e.g. https://ghe.example.com/api/v3
#   DATABASE_URL                live store; SQLite in the volume by default, postgresql+psycopg://... for replicas
#   SMTP_URL                    smtp[s]://user:password@host:port for email notifications
#   REDIS_URL                   redis://host:6379/0: jobs run in `approvalbot worker` processes, woken through Redis
#   APPROVALBOT_WORKERS         request and job threads (default 4)
#   APPROVALBOT_LOG_LEVEL       DEBUG, INFO, WARNING, ERROR (default INFO)

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the locked dependencies, then the package, into a virtualenv (wheels only) ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/approvalbot
# The lock alone first: its layer is reused until the lock changes. Every file is checked against its hash.
COPY requirements.txt /src/requirements.txt
RUN /opt/approvalbot/bin/pip install --require-hashes -r /src/requirements.txt
COPY . /src
# --no-deps: nothing beyond the lock; --no-build-isolation: built by the locked setuptools.
RUN /opt/approvalbot/bin/pip install --no-deps --no-build-isolation /src

# --- runtime: the virtualenv only, no sources, no pip cache, not root --------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/approvalbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////var/lib/approvalbot/approvalbot.db
RUN groupadd --system --gid 10001 approvalbot \
 && useradd --system --uid 10001 --gid approvalbot --home-dir /var/lib/approvalbot --shell /usr/sbin/nologin approvalbot \
 && install -d -o approvalbot -g approvalbot -m 0750 /var/lib/approvalbot
COPY --from=build /opt/approvalbot /opt/approvalbot
WORKDIR /var/lib/approvalbot
VOLUME ["/var/lib/approvalbot"]
USER 10001:10001
EXPOSE 8080
# slim has no curl; urlopen raises on a 503 (store down) and on a refused connection, so both fail the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["approvalbot", "serve", "--host", "0.0.0.0", "--port", "8080"]
