from django.core.management.base import BaseCommand

from apps.billing.services import packages_expire_due


class Command(BaseCommand):
    help = (
        "Expire every active lesson package past its expires_at (cron). "
        "Safe to run while the API serves and while another copy runs."
    )

    def handle(self, *args, **options):
        expired = packages_expire_due(actor=None)
        self.stdout.write(f"Expired {expired} packages.")
