import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Factories hash a password per user; the production hasher costs ~1s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
