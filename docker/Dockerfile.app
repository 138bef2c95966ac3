# The app (FastAPI, the chat connectors) and, with another command, the action server and its search.
# Build from the directory that holds both the repo and shared/:
#   docker build -f main/docker/Dockerfile.app -t tthc-app .
# Chart.js for the console's analytics page, installed from web/package-lock.json (as `make web-deps`).
FROM node:20-slim AS web
WORKDIR /web
COPY main/web/package.json main/web/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM python:3.11-slim
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 \
    TTHC_SHARED_DIR=/srv/shared TTHC_VAR_DIR=/srv/var
WORKDIR /srv/app
COPY main/requirements/ requirements/
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir -r requirements/app.lock
COPY shared/data /srv/shared/data
COPY main/ .
COPY --from=web /web/node_modules/chart.js/dist/chart.umd.js connectors/console/static/vendor/chart.umd.js
RUN pip install --no-cache-dir --no-deps -e . && tthc model convert && tthc index build
EXPOSE 8000
CMD ["uvicorn", "connectors.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--http", "connectors.slowclients:TimedH11Protocol", "--timeout-keep-alive", "5", \
     "--timeout-graceful-shutdown", "25"]
