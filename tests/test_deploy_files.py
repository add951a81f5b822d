"""Docker cannot run here, so the deploy files are checked by reading them."""

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services():
    services = _compose()["services"]
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert {"app", "worker", "migrate", "scheduler"} <= set(services)
    assert services["worker"]["command"] == ["python", "manage.py", "run_outbox_worker", "--loop"]
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert services["scheduler"]["command"] == ["sh", "deploy/scheduler.sh"]


def test_the_scheduler_runs_each_command_on_its_beat(tmp_path):
    """deploy/scheduler.sh: expiry and the KPI fold every minute, reminders every fifth, retention once a day."""
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "$2" >> "$(dirname "$0")/calls"\n')
    fake.chmod(0o755)
    # Ten beats: `sleep` is a no-op that stops the loop after its tenth call.
    sleep = tmp_path / "sleep"
    sleep.write_text(
        '#!/bin/sh\necho . >> "$(dirname "$0")/beats"; [ "$(wc -l < "$(dirname "$0")/beats")" -lt 10 ] || kill $PPID\n'
    )
    sleep.chmod(0o755)
    subprocess.run(
        ["sh", str(ROOT / "deploy" / "scheduler.sh")],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        timeout=30,
        check=False,
    )
    calls = (tmp_path / "calls").read_text().split()
    every_minute = ("expire_booking_holds", "expire_packages", "compact_kpi_counters")
    assert [calls.count(name) for name in every_minute] == [10, 10, 10]
    assert calls.count("send_lesson_reminders") == 2  # beats 0 and 5
    assert calls.count("prune_outbox_events") == 1  # one UTC day


def test_compose_app_env_points_at_postgres_and_redis_in_production_mode():
    services = _compose()["services"]
    for name in ("app", "worker", "migrate", "scheduler"):
        env = services[name]["environment"]
        assert env["APP_ENV"] == "production"
        assert env["DEBUG"] == "false"
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert "SECRET_KEY" in env
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "8000:8000" in services["app"]["ports"]


def test_dockerfile_runs_gunicorn_as_non_root_with_collected_static():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER app$", text, re.M)
    assert "collectstatic --noinput" in text
    assert "gunicorn guitaronline.wsgi:application" in text
    assert "requirements/base.txt" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored and ".env" in ignored


def test_every_setting_read_from_the_environment_is_documented():
    settings_text = (ROOT / "guitaronline" / "settings.py").read_text()
    used = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', settings_text))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", example, re.M))
    readme = (ROOT / "README.md").read_text()
    assert used, "no env reads found: the pattern is stale"
    assert used <= documented, f"missing from .env.example: {sorted(used - documented)}"
    missing_in_readme = sorted(name for name in used if f"`{name}`" not in readme)
    assert not missing_in_readme, f"missing from the README configuration table: {missing_in_readme}"
