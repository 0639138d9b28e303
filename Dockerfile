# One image for every app process of the registry: gunicorn web, Celery worker, Celery beat and
# one-shot management commands (migrate, seed_demo). See docker-compose.yml for how they are run.
# Front-end assets from npm, pinned by package-lock.json (served by whitenoise, never a CDN).
FROM node:22.22.2-bookworm-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.12.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.12 \
    PATH=/app/.venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=config.settings \
    WHITENOISE_USE_FINDERS=false \
    STATICFILES_STORAGE=whitenoise.storage.CompressedManifestStaticFilesStorage

# uv itself is in the dev dependency group, which the image leaves out: install the same pin here.
RUN pip install uv==0.13.9

WORKDIR /app

# Dependencies first, so code changes do not invalidate this layer. package = false in
# pyproject.toml, so syncing needs only these two files.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project --no-cache

COPY . .
COPY --from=assets /assets/node_modules ./node_modules

# Static files are baked into the image and served by whitenoise. The key only satisfies
# settings at build time (no database is touched: the SQLite demo mode, so settings accept a
# public key; config.checks flags it should it ever run); the manifest storage is used because
# DJANGO_DEBUG defaults to false.
RUN DJANGO_SECRET_KEY=collectstatic-build-only-not-a-secret \
    python manage.py collectstatic --noinput

# The code stays root-owned (read-only to the app); only ./data (the SQLite fallback, created by
# settings when no DATABASE_URL is set) and the user's home (gunicorn's control socket,
# ~/.gunicorn/) are writable, and /var/lib/celerybeat, Celery beat's schedule (a volume in
# docker-compose.yml: a new named volume starts as a copy of this folder, owner included).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
 && mkdir -p /app/data /var/lib/celerybeat \
 && chown app:app /app/data /var/lib/celerybeat

USER app

EXPOSE 8000

# Bind address, workers and an access log without query strings: config/gunicorn.conf.py.
CMD ["gunicorn", "--config", "config/gunicorn.conf.py", "config.wsgi:application"]
