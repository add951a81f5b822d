import factory

from apps.identity.models import Role, User

DEFAULT_PASSWORD = "Str0ng-Guitar-Pass!"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    role = Role.STUDENT
    timezone = "UTC"
    is_active = True
    is_staff = factory.LazyAttribute(lambda o: o.role == Role.ADMIN)

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])


class StudentFactory(UserFactory):
    role = Role.STUDENT
    email = factory.Sequence(lambda n: f"student{n}@example.com")


class TeacherFactory(UserFactory):
    role = Role.TEACHER
    email = factory.Sequence(lambda n: f"teacher{n}@example.com")


class AdminFactory(UserFactory):
    role = Role.ADMIN
    email = factory.Sequence(lambda n: f"admin{n}@example.com")
    is_staff = True
    is_superuser = True
