from django.conf import settings
from django.db import models

from apps.common.models import TimeStampedModel


class TeacherProfile(TimeStampedModel):
    """The public face of a teacher; listed once an admin approves it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="teacher_profile")
    display_name = models.CharField(max_length=128)
    bio = models.TextField(blank=True, default="", max_length=5000)
    experience_years = models.PositiveSmallIntegerField(default=0)
    is_approved = models.BooleanField(default=False)

    class Meta:
        db_table = "teacher_profiles"
        ordering = ["display_name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(experience_years__gte=0, experience_years__lte=80),
                name="teacher_profiles_experience_range",
            ),
        ]
        indexes = [models.Index(fields=["is_approved", "display_name"], name="teacher_profiles_listing_idx")]

    def __str__(self) -> str:
        return self.display_name
