from django.core.management.base import BaseCommand

from apps.booking.services import booking_holds_expire


class Command(BaseCommand):
    help = "Expire every booking hold past its hold_expires_at (cron; safe beside the API and another copy)."

    def handle(self, *args, **options):
        expired = booking_holds_expire(actor=None)
        self.stdout.write(f"Expired {expired} booking holds.")
