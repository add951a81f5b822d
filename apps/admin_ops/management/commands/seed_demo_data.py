"""`python manage.py seed_demo_data`: a small, living demo school. Safe to run again.

Everything goes through the domain services (with the demo admin as actor), so
the demo data carries the same audit trail and outbox events as real traffic,
and the worker has notifications to deliver. The one exception is the sales
history: packages sold over the past months are sold through the services and
then dated back, so the dashboard's charts have months to show.

Running it again adds nothing, except the slots of days that have come into
the two-week horizon since the last run (the weekly schedules are generated
again, and generation skips what exists).
"""

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.audit.models import AuditLog
from apps.billing import services as billing
from apps.billing.models import LessonPackage, Payment, Plan
from apps.booking import services as booking
from apps.booking.models import Booking
from apps.common import clock
from apps.common.errors import DomainError
from apps.identity import services as identity
from apps.identity.models import Role
from apps.lessons import services as lessons
from apps.lessons.models import Lesson, LessonStatus
from apps.scheduling import services as scheduling
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.schedule_times import Window
from apps.teachers import services as teachers
from apps.teachers.models import TeacherProfile

ADMIN_EMAIL = "admin@guitaronline.local"
ADMIN_PASSWORD = "guitar-admin-demo"
DEMO_PASSWORD = "guitar-demo-pass"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def _hours(weekdays, start: int, end: int) -> list[Window]:
    return [Window(weekday=day, start_minute=start * 60, end_minute=end * 60) for day in weekdays]


# (email, full name, display name, bio, years, time zone, weekly windows, slot minutes)
TEACHERS = [
    (
        "teacher1@guitaronline.local",
        "Ana García",
        "Ana Flamenca",
        "Flamenco and classical technique.",
        12,
        "Europe/Madrid",
        _hours((MON, WED, FRI), 10, 13) + _hours((TUE, THU), 17, 20),
        45,
    ),
    (
        "teacher2@guitaronline.local",
        "Ben Walker",
        "Ben Blues",
        "Blues, slide and improvisation.",
        8,
        "America/Chicago",
        _hours((MON, TUE, WED, THU, FRI), 17, 20),
        60,
    ),
    (
        "teacher3@guitaronline.local",
        "Chloe Park",
        "Chloe Chords",
        "Pop and rock rhythm guitar for beginners.",
        5,
        "Europe/London",
        _hours((SAT, SUN), 9, 12) + _hours((WED,), 18, 21),
        60,
    ),
]
# (email, full name, time zone, plan name)
STUDENTS = [
    ("student1@guitaronline.local", "Sam Strummer", "Europe/Berlin", "Regular"),
    ("student2@guitaronline.local", "Maria Picking", "Europe/Madrid", "Regular"),
    ("student3@guitaronline.local", "Leo Riff", "America/New_York", "Starter"),
    ("student4@guitaronline.local", "Ines Arpeggio", "Europe/Lisbon", "Regular"),
    ("student5@guitaronline.local", "Tom Fretman", "Europe/London", "Intensive"),
]
# (name, lessons, price, validity days)
PLANS = [
    ("Starter", 4, Decimal("89.00"), 30),
    ("Regular", 10, Decimal("199.00"), 60),
    ("Intensive", 20, Decimal("369.00"), 90),
]
SCHEDULE_DAYS_AHEAD = 13  # today and the next 13 local days: two weeks of open slots
HISTORY_MONTHS = 6


class Command(BaseCommand):
    help = (
        "Create (or top up) the demo school: admin, 3 teachers with weekly schedules and two weeks of "
        "generated slots, 5 students with packages from plans, bookings in every state, months of sales."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        admin = self._user(User, ADMIN_EMAIL, ADMIN_PASSWORD, Role.ADMIN, "School Office", "UTC")
        teacher_users = [
            self._user(User, email, DEMO_PASSWORD, Role.TEACHER, full_name, tz)
            for email, full_name, _, _, _, tz, _, _ in TEACHERS
        ]
        students = [
            self._user(User, email, DEMO_PASSWORD, Role.STUDENT, full_name, tz) for email, full_name, tz, _ in STUDENTS
        ]

        for user, (_, _, name, bio, years, *_rest) in zip(teacher_users, TEACHERS, strict=True):
            profile = TeacherProfile.objects.filter(user=user).first()
            if profile is None:
                profile = teachers.teacher_profile_create(
                    actor=admin, user_id=user.pk, display_name=name, bio=bio, experience_years=years
                )
            if not profile.is_approved:
                teachers.teacher_profile_update(actor=admin, profile_id=profile.pk, data={"is_approved": True})

        plans = self._plans(admin)
        packages = self._packages(admin, students, plans)
        created_slots = self._schedules(admin, teacher_users)

        bookings_made = 0
        if not Booking.objects.exists():
            bookings_made = self._bookings(admin=admin, students=students, packages=packages)
            self._homework(teacher_users[0])
        sold = self._sales_history(admin, students, plans)

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo school ready: admin {ADMIN_EMAIL} / {ADMIN_PASSWORD}; teachers and students "
                f"(teacher1..3@, student1..5@guitaronline.local) / {DEMO_PASSWORD}; "
                f"{created_slots} new slots, {bookings_made} new bookings, {sold} packages of sales history."
            )
        )

    def _user(self, User, email: str, password: str, role: str, full_name: str, tz: str):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            if role == Role.ADMIN:
                user = User.objects.create_superuser(email=email, password=password)
            else:
                user = User.objects.create_user(email=email, password=password, role=role)
        if not user.full_name:
            user = identity.user_update(user=user, full_name=full_name, timezone=tz)
        return user

    def _plans(self, admin) -> dict[str, Plan]:
        plans = {}
        for name, lessons_total, price, validity_days in PLANS:
            plan = Plan.objects.filter(name=name).first()
            if plan is None:
                plan = billing.plan_create(
                    actor=admin, name=name, lessons_total=lessons_total, price=price, validity_days=validity_days
                )
            plans[name] = plan
        return plans

    def _packages(self, admin, students, plans) -> dict:
        """Each student's current package, sold from their plan and paid for."""
        packages = {}
        now = clock.now()
        for student, (*_, plan_name) in zip(students, STUDENTS, strict=True):
            package = (
                LessonPackage.objects.filter(student=student, status="active", expires_at__gt=now)
                .order_by("-created_at")
                .first()
            )
            if package is None:
                package = self._sell(admin, student, plans[plan_name])
            packages[student.pk] = package
        return packages

    def _sell(self, admin, student, plan) -> LessonPackage:
        package = billing.package_create(actor=admin, student_id=student.pk, plan_id=plan.pk)
        payment = billing.payment_create(
            actor=admin,
            package_id=package.pk,
            amount=plan.price,
            currency=plan.currency,
            external_reference=f"demo-{student.email}-{package.pk}",
        )
        billing.payment_set_status(actor=admin, payment_id=payment.pk, status="succeeded")
        return package

    def _schedules(self, admin, teacher_users) -> int:
        """A weekly schedule per teacher (in their own time zone), cut into two weeks of open slots."""
        created = 0
        for teacher, (*_, tz, windows, slot_minutes) in zip(teacher_users, TEACHERS, strict=True):
            scheduling.schedule_replace(
                actor=admin, teacher_id=teacher.pk, windows=windows, slot_minutes=slot_minutes, timezone=tz
            )
            today = clock.now().astimezone(ZoneInfo(tz)).date()
            horizon = today + timedelta(days=SCHEDULE_DAYS_AHEAD)
            already = AuditLog.objects.filter(
                action="scheduling.slots.generate",
                payload__teacher_id=str(teacher.pk),
                payload__to_date=horizon.isoformat(),
            )
            if already.exists():  # generated up to this horizon today: nothing new to cut
                continue
            counts = scheduling.schedule_generate(actor=admin, teacher_id=teacher.pk, from_date=today, to_date=horizon)
            created += counts.created
        return created

    def _open_slots(self, teacher_index: int) -> list[AvailabilitySlot]:
        email = TEACHERS[teacher_index][0]
        return list(
            AvailabilitySlot.objects.filter(
                teacher__email=email, status=SlotStatus.OPEN, start_at__gt=clock.now() + timedelta(hours=2)
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

    def _homework(self, teacher) -> None:
        """The teacher prepares their next lesson: a topic and homework."""
        lesson = Lesson.objects.filter(teacher=teacher, status=LessonStatus.SCHEDULED).order_by("scheduled_start_at")
        lesson = lesson.first()
        if lesson is not None:
            lessons.lesson_update(
                actor=teacher,
                lesson_id=lesson.pk,
                data={"topic": "Soleá rhythm", "homework": "Practise the 12-beat compás with a metronome at 80 bpm."},
            )

    def _sales_history(self, admin, students, plans) -> int:
        """Packages sold over the past months (sold and paid through the services, then dated back).

        Only once: a school that already has a payment older than a month has its history.
        """
        now = clock.now()
        if Payment.objects.filter(paid_at__lt=now - timedelta(days=30)).exists():
            return 0
        sold = 0
        for months_ago in range(HISTORY_MONTHS, 0, -1):
            for index, student in enumerate(students):
                if (index + months_ago) % 3 == 0:  # not everyone buys every month
                    continue
                plan = plans[PLANS[(index + months_ago) % len(PLANS)][0]]
                package = self._sell(admin, student, plan)
                when = now - timedelta(days=30 * months_ago + index)
                with transaction.atomic():
                    # A month's package, long run out: dated back, then left to the real expiry sweep.
                    LessonPackage.objects.filter(pk=package.pk).update(
                        created_at=when, expires_at=when + timedelta(days=28)
                    )
                    billing.package_lists_changed(student_ids=[student.pk])
                    Payment.objects.filter(package=package).update(created_at=when, paid_at=when)
                sold += 1
        billing.packages_expire_due(actor=admin)
        return sold
