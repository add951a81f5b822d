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
