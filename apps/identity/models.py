import zoneinfo

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from apps.common.models import TimeStampedModel

FULL_NAME_MAX_LENGTH = 200


class Role(models.TextChoices):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"


def validate_timezone(value: str) -> None:
    """Accept IANA zone names only (`Europe/Berlin`, `UTC`)."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError("Must be an IANA time zone name, e.g. Europe/Berlin.")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("role", Role.STUDENT)
        extra.setdefault("is_staff", extra["role"] == Role.ADMIN)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        """`manage.py createsuperuser` makes a role-admin staff user."""
        extra.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(TimeStampedModel, AbstractBaseUser, PermissionsMixin):
    """A person who logs in: student, teacher or admin (staff). Email is the login."""

    email = models.EmailField(max_length=254, unique=True)
    # db_default too: rows loaded with plain SQL (bench, operators) need no value.
    full_name = models.CharField(max_length=FULL_NAME_MAX_LENGTH, blank=True, default="", db_default="")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log into the Django admin site.")

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        db_table = "users"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="users_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=["student", "teacher", "admin"]), name="users_role_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["role"], name="users_role_idx"),
            # The admin user list, newest first (an index scan for the page instead of sorting every user).
            models.Index(fields=["-created_at", "-id"], name="users_created_idx"),
        ]
        # On PostgreSQL, migration 0002 adds trigram indexes for the list's `q` search (email, full_name).

    def __str__(self) -> str:
        return self.email

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_student(self) -> bool:
        return self.role == Role.STUDENT

    @property
    def is_teacher(self) -> bool:
        return self.role == Role.TEACHER
