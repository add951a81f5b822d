"""Production start-up safety (SPEC §6): refuse unsafe keys and DEBUG."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[3]
STRONG_KEY = "x9$Gq2!vLr7#pZ4@wN8^tB5&kM1*hJ6(eC3)yF0_uA-sD+oI"


def _manage_check(**overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"APP_ENV", "DEBUG", "SECRET_KEY"}}
    env.update({k: v for k, v in overrides.items() if v is not None})
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "secret_key",
    [None, "", "change-me-please", "CHANGE-ME", "change-me-insecure-development-key"],
)
def test_production_refuses_a_missing_default_or_placeholder_key(secret_key):
    result = _manage_check(APP_ENV="production", DEBUG="false", SECRET_KEY=secret_key)

    assert result.returncode != 0
    assert "APP_ENV=production refuses to start" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_debug():
    result = _manage_check(APP_ENV="production", DEBUG="true", SECRET_KEY=STRONG_KEY)

    assert result.returncode != 0
    assert "DEBUG must be false" in result.stderr


def test_production_with_a_strong_key_and_debug_off_starts():
    result = _manage_check(APP_ENV="production", DEBUG="false", SECRET_KEY=STRONG_KEY)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_debug_defaults_to_off():
    result = _manage_check(APP_ENV="production", SECRET_KEY=STRONG_KEY)

    assert result.returncode == 0, result.stderr


def test_development_allows_the_default_key():
    result = _manage_check(APP_ENV="development")

    assert result.returncode == 0, result.stderr


# --- `manage.py check --deploy` (SPEC §8.6) ---------------------------------------------------------

# What docs and .env.example tell an operator to set behind a TLS-terminating balancer.
DEPLOY_ENV = {
    "APP_ENV": "production",
    "DEBUG": "false",
    "SECRET_KEY": "5f0c2b9e8d7a6f4e3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d",  # openssl rand -hex 32
    "ALLOWED_HOSTS": "api.guitaronline.example",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def _deploy_check(**env) -> subprocess.CompletedProcess:
    # Nothing of the test run's own environment (the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE).
    ours = ("SECURE_", "APP_ENV", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = _deploy_check(**DEPLOY_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_names_what_is_missing_without_the_secure_settings():
    env = {k: v for k, v in DEPLOY_ENV.items() if not k.startswith("SECURE_")}

    result = _deploy_check(**env)

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008"):  # HSTS, SSL redirect
        assert warning in result.stderr, result.stderr


@pytest.mark.parametrize("value", ["X-Forwarded-Proto: https", "HTTP_X_FORWARDED_PROTO", "a,b,c"])
def test_a_malformed_proxy_ssl_header_refuses_to_start(value):
    result = _manage_check(SECURE_PROXY_SSL_HEADER=value)

    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must look like HTTP_X_FORWARDED_PROTO,https" in result.stderr


def test_a_bad_metrics_cidr_refuses_to_start():
    result = _manage_check(METRICS_ALLOWED_IPS="127.0.0.0/8,not-a-network")

    assert result.returncode != 0
    assert "METRICS_ALLOWED_IPS" in result.stderr
