"""Apps depend one way (README "Architecture"); the contracts live in `.importlinter`.

common <- audit <- identity <- teachers, scheduling, billing <- lessons <- booking <- admin_ops,
with notifications standing on audit and common only. A lower app that needs a higher one's
work gets plain values passed in, or an outbox event.
"""

from pathlib import Path

from django.conf import settings
from importlinter.cli import lint_imports

CONFIG = str(Path(settings.BASE_DIR) / ".importlinter")


def test_every_layering_contract_is_kept():
    assert lint_imports(config_filename=CONFIG, no_cache=True, no_logo=True) == 0


def test_a_lower_app_importing_a_higher_one_breaks_the_contract():
    # The check must be able to fail: lessons reaching up into booking is exactly what it forbids.
    probe = Path(settings.BASE_DIR) / "apps" / "lessons" / "_layering_probe_for_tests.py"
    probe.write_text("from apps.booking.models import Booking  # noqa: F401\n")
    try:
        assert lint_imports(config_filename=CONFIG, no_cache=True, no_logo=True) == 1
    finally:
        probe.unlink()
