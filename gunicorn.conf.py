"""gunicorn settings for the API (the Dockerfile, tests and bench start gunicorn from the project root,
where gunicorn reads this file by default; flags on the command line win over it).

Prometheus multiprocess mode: every worker process writes its request series
to files in PROMETHEUS_MULTIPROC_DIR, and `/metrics` sums them, so a scrape
answered by any worker reports the whole server. The directory must be set
before a worker imports the app and must start empty, so this file creates a
fresh one per gunicorn master (or empties the one given, which must not be
shared with another master), and removes a dead worker's live files.
"""

import os
import shutil
import tempfile
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # the Docker image sets 0.0.0.0:8000
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# The app writes one access line per request with its request id (apps/common/request_ids.py).
accesslog = None
errorlog = "-"

_created_multiproc_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _created_multiproc_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="guitaronline-prometheus-")
MULTIPROC_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])

if os.environ.get("LOG_FORMAT", "plain").lower() == "json":
    # gunicorn's own lines (booting, worker exits) as JSON objects too, like the app's.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": ["levelname", "name", "message"],
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            }
        },
        "handlers": {"error_console": {"class": "logging.StreamHandler", "formatter": "json"}},
        # Replaces gunicorn's defaults (whose root and access loggers name handlers not defined here).
        "root": {"level": "INFO", "handlers": ["error_console"]},
        "loggers": {"gunicorn.error": {"handlers": ["error_console"], "level": "INFO", "propagate": False}},
    }


def on_starting(server):
    """Start from an empty metrics directory: files of an earlier run would add old counts."""
    MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
    for stale in MULTIPROC_DIR.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker died or was replaced: drop its live-gauge files (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _created_multiproc_dir:
        shutil.rmtree(MULTIPROC_DIR, ignore_errors=True)
