# Production image: gunicorn serving the Django app, static files by whitenoise, non-root user.
FROM python:3.12-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_MANIFEST=true

WORKDIR /app

RUN groupadd --system app && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app

COPY requirements/ requirements/
RUN pip install -r requirements/base.txt

COPY . .

# collectstatic needs settings but no database or real secret.
RUN SECRET_KEY=collectstatic-only APP_ENV=build DEBUG=false python manage.py collectstatic --noinput \
    && chown -R app:app /app

USER app

EXPOSE 8000

ENV GUNICORN_BIND=0.0.0.0:8000 \
    GUNICORN_WORKERS=4 \
    GUNICORN_TIMEOUT=30

# gunicorn.conf.py reads GUNICORN_*, sets up Prometheus multiprocess metrics, and leaves the
# access log to the app (one line per request, with its request id).
CMD ["gunicorn", "guitaronline.wsgi:application", "--config", "gunicorn.conf.py"]
