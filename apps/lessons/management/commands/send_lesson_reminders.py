from django.core.management.base import BaseCommand

from apps.lessons.services import lesson_reminders_queue


class Command(BaseCommand):
    help = (
        "Queue one lesson.reminder outbox event per scheduled lesson starting within LESSON_REMINDER_HOURS "
        "(cron, every 5 minutes; never twice for a lesson, safe beside another copy)."
    )

    def handle(self, *args, **options):
        queued = lesson_reminders_queue()
        self.stdout.write(f"Queued {queued} lesson reminders.")
