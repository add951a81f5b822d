"""Docker cannot run here, so the deploy files are checked by reading them.

Prometheus's own `promtool` (Debian's `prometheus` package; .ci/run installs it)
checks the scrape config and the alert rules and runs their unit tests
(deploy/prometheus/alerts_test.yml); a structure test of the rules runs always.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services():
    services = _compose()["services"]
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert {"app", "worker", "migrate", "scheduler", "prometheus"} <= set(services)
    assert services["worker"]["command"] == ["python", "manage.py", "run_outbox_worker", "--loop"]
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert services["scheduler"]["command"] == ["sh", "deploy/scheduler.sh"]


def test_the_scheduler_runs_each_command_on_its_beat(tmp_path):
    """deploy/scheduler.sh: expiry and the KPI fold every minute, reminders every fifth, retention and slots daily."""
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
    assert calls.count("generate_slots") == 1  # one UTC day
    assert "python manage.py generate_slots --weeks 4" in (ROOT / "deploy" / "scheduler.sh").read_text()


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
    # gunicorn.conf.py: Prometheus multiprocess directory, bind/workers from GUNICORN_*, the app's access log.
    assert 'CMD ["gunicorn", "guitaronline.wsgi:application", "--config", "gunicorn.conf.py"]' in text
    assert "GUNICORN_BIND=0.0.0.0:8000" in text
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


# --- Prometheus ------------------------------------------------------------------------------------


def test_compose_runs_prometheus_with_our_config_and_the_scrape_token():
    compose = _compose()
    prometheus = compose["services"]["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert prometheus["secrets"] == ["metrics_token"]
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    app_env = compose["services"]["app"]["environment"]
    assert app_env["METRICS_TOKEN"].startswith("${METRICS_TOKEN:?")
    # Prometheus asks for http://app:8000/metrics: `app` must be an allowed host.
    assert "app" in app_env["ALLOWED_HOSTS"].split(":-", 1)[1].rstrip("}").split(",")


def test_scrape_config_reads_the_app_with_the_token():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}
    assert job["static_configs"][0]["targets"] == ["app:8000"]


REQUIRED_ALERTS = {
    "OutboxDeadLetters": ("guitaronline_outbox_dead_letter", None),
    "OutboxPendingGrowing": ("guitaronline_outbox_pending", "10m"),
    "StaleBookingHolds": ("guitaronline_stale_booking_holds", None),
    "HighServerErrorRate": ("guitaronline_http_requests_total", None),
    "HighP99Latency": ("guitaronline_http_request_duration_seconds_bucket", None),
}
DURATION = re.compile(r"^\d+[smh]$")


def _rules() -> list[dict]:
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    assert set(document) == {"groups"}
    rules = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
        rules.extend(group["rules"])
    return rules


def test_alert_rules_have_the_structure_prometheus_needs():
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), names
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert DURATION.match(rule["for"]), rule
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule
        assert "README.md" in rule["annotations"]["runbook"]


def test_the_required_alerts_exist_on_the_right_series():
    rules = {rule["alert"]: rule for rule in _rules()}
    for name, (series, window) in REQUIRED_ALERTS.items():
        assert name in rules, f"missing alert {name}"
        assert series in rules[name]["expr"], rules[name]
        if window:
            assert f"[{window}]" in rules[name]["expr"], rules[name]
    assert rules["StaleBookingHolds"]["for"] == "5m"
    assert rules["HighServerErrorRate"]["expr"].count('status=~"5.."') == 1
    assert "histogram_quantile(0.99" in rules["HighP99Latency"]["expr"]


@pytest.mark.django_db
def test_every_series_the_alerts_read_is_one_the_app_exports(client):
    client.get("/health")  # labelled series appear with their first request
    text = client.get("/metrics").content.decode()
    exported = set(re.findall(r"^(guitaronline_\w+?)(?:\{| )", text, re.M))
    named = {name for rule in _rules() for name in re.findall(r"guitaronline_\w+", rule["expr"])}
    assert named, "the alerts read no guitaronline series"
    assert named <= exported, f"alerts read series the app does not export: {sorted(named - exported)}"


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    if not PROMTOOL:
        if os.environ.get("CI"):
            pytest.fail("promtool is not installed; .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    checked = _promtool("check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", "alerts_test.yml", cwd=PROMETHEUS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_promtool_accepts_the_scrape_config(tmp_path):
    # The token file exists only inside the container: point a copy at a stand-in to check everything else.
    token = tmp_path / "metrics_token"
    token.write_text("token")
    config = (PROMETHEUS / "prometheus.yml").read_text().replace("/run/secrets/metrics_token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")

    checked = _promtool("check", "config", "prometheus.yml", cwd=tmp_path)

    assert checked.returncode == 0, checked.stdout + checked.stderr
