import factory

from apps.identity.tests.factories import TeacherFactory
from apps.teachers.models import TeacherProfile


class TeacherProfileFactory(factory.django.DjangoModelFactory):
    """An approved profile for a fresh teacher (`is_approved=False` for a pending one)."""

    class Meta:
        model = TeacherProfile

    user = factory.SubFactory(TeacherFactory)
    display_name = factory.Sequence(lambda n: f"Teacher {n:04d}")
    bio = "Plays and teaches guitar."
    experience_years = 5
    is_approved = True
