"""`python manage.py seed_demo_data`: a small, living demo school. Safe to run again.

Everything goes through the domain services (with the demo admin as actor), so
the demo data carries the same audit trail and outbox events as real traffic,
and the worker has notifications to deliver.
"""

from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.billing import services as billing
from apps.billing.models import LessonPackage
from apps.booking import services as booking
from apps.booking.models import Booking
from apps.common import clock
from apps.common.errors import DomainError
from apps.identity.models import Role
from apps.scheduling import services as scheduling
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.teachers import services as teachers
from apps.teachers.models import TeacherProfile

ADMIN_EMAIL = "admin@guitaronline.local"
ADMIN_PASSWORD = "guitar-admin-demo"
DEMO_PASSWORD = "guitar-demo-pass"
TEACHERS = [
    ("teacher1@guitaronline.local", "Ana Flamenca", "Flamenco and classical technique.", 12),
    ("teacher2@guitaronline.local", "Ben Blues", "Blues, slide and improvisation.", 8),
    ("teacher3@guitaronline.local", "Chloe Chords", "Pop and rock rhythm guitar for beginners.", 5),
]
STUDENTS = [f"student{i}@guitaronline.local" for i in range(1, 6)]
SLOT_HOURS_UTC = (10, 14, 18)
SLOT_MINUTES = 45


class Command(BaseCommand):
    help = "Create (or top up) the demo school: admin, 3 teachers, 5 students, a week of slots, bookings."

    def handle(self, *args, **options):
        User = get_user_model()
        admin = self._user(User, ADMIN_EMAIL, ADMIN_PASSWORD, Role.ADMIN)
        teacher_users = [self._user(User, email, DEMO_PASSWORD, Role.TEACHER) for email, *_ in TEACHERS]
        students = [self._user(User, email, DEMO_PASSWORD, Role.STUDENT) for email in STUDENTS]

        for user, (_, name, bio, years) in zip(teacher_users, TEACHERS, strict=True):
            profile = TeacherProfile.objects.filter(user=user).first()
            if profile is None:
                profile = teachers.teacher_profile_create(
                    actor=admin, user_id=user.pk, display_name=name, bio=bio, experience_years=years
                )
            if not profile.is_approved:
                teachers.teacher_profile_update(actor=admin, profile_id=profile.pk, data={"is_approved": True})

        packages = {}
        now = clock.now()
        for student in students:
            package = (
                LessonPackage.objects.filter(student=student, status="active", expires_at__gt=now)
                .order_by("-created_at")
                .first()
            )
            if package is None:
                package = billing.package_create(
                    actor=admin, student_id=student.pk, lessons_total=10, expires_at=now + timedelta(days=60)
                )
                payment = billing.payment_create(
                    actor=admin,
                    package_id=package.pk,
                    amount="199.00",
                    currency="USD",
                    external_reference=f"demo-{student.email}-{package.pk}",
                )
                billing.payment_set_status(actor=admin, payment_id=payment.pk, status="succeeded")
            packages[student.pk] = package

        created_slots = 0
        tomorrow = (now + timedelta(days=1)).date()
        for teacher in teacher_users:
            for day in range(7):
                for hour in SLOT_HOURS_UTC:
                    start = datetime.combine(tomorrow + timedelta(days=day), time(hour), tzinfo=now.tzinfo)
                    end = start + timedelta(minutes=SLOT_MINUTES)
                    if scheduling.slot_overlaps(teacher_id=teacher.pk, start_at=start, end_at=end):
                        continue
                    scheduling.slot_create(actor=admin, teacher_id=teacher.pk, start_at=start, end_at=end)
                    created_slots += 1

        bookings_made = 0
        if not Booking.objects.exists():
            bookings_made = self._bookings(admin=admin, students=students, packages=packages)

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo school ready: admin {ADMIN_EMAIL} / {ADMIN_PASSWORD}; teachers and students "
                f"(teacher1..3@, student1..5@guitaronline.local) / {DEMO_PASSWORD}; "
                f"{created_slots} new slots, {bookings_made} new bookings."
            )
        )

    def _user(self, User, email: str, password: str, role: str):
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            return user
        if role == Role.ADMIN:
            return User.objects.create_superuser(email=email, password=password)
        return User.objects.create_user(email=email, password=password, role=role)

    def _open_slots(self, teacher_index: int) -> list[AvailabilitySlot]:
        email = TEACHERS[teacher_index][0]
        return list(
            AvailabilitySlot.objects.filter(
                teacher__email=email, status=SlotStatus.OPEN, start_at__gt=clock.now()
            ).order_by("start_at")
        )

    def _bookings(self, *, admin, students, packages) -> int:
        """One booking in each state, so every screen and report has something to show."""
        slots = self._open_slots(0) + self._open_slots(1)
        made = 0
        try:
            # hold: student1 is mid-checkout.
            booking.booking_hold(student=students[0], slot_id=slots[0].pk, package_id=packages[students[0].pk].pk)
            made += 1
            # confirmed (with its scheduled lesson): students 2 and 5.
            for student, slot in ((students[1], slots[1]), (students[4], slots[5])):
                held = booking.booking_hold(student=student, slot_id=slot.pk, package_id=packages[student.pk].pk)
                booking.booking_confirm(actor=student, booking_id=held.pk)
                made += 1
            # canceled by the teacher: the lesson goes back to student3's package.
            held = booking.booking_hold(
                student=students[2], slot_id=slots[2].pk, package_id=packages[students[2].pk].pk
            )
            booking.booking_confirm(actor=students[2], booking_id=held.pk)
            booking.booking_cancel(actor=admin, booking_id=held.pk, reason="Teacher is ill (demo).")
            made += 1
            # expired: student4 walked away from a hold. The demo backdates the hold's
            # deadline instead of waiting BOOKING_HOLD_MINUTES, then runs the real expiry.
            held = booking.booking_hold(
                student=students[3], slot_id=slots[3].pk, package_id=packages[students[3].pk].pk
            )
            with transaction.atomic():
                Booking.objects.filter(pk=held.pk).update(hold_expires_at=clock.now() - timedelta(minutes=1))
                booking.booking_lists_changed(student_id=held.student_id, teacher_id=held.teacher_id)
            booking.booking_holds_expire(actor=admin)
            made += 1
        except DomainError as exc:  # a demo that cannot be built fully still leaves the rest
            self.stderr.write(f"demo bookings stopped early: {exc}")
        return made
