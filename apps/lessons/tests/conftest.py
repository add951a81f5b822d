# Booking's fixtures (slot, package, snapshot, fast hashing) serve lessons' tests too.
from apps.booking.tests.conftest import package, slot, snapshot  # noqa: F401
