"""Role permissions. Ownership checks live in services, which know the objects."""

from rest_framework.permissions import BasePermission


def _role(request) -> str | None:
    user = request.user
    return getattr(user, "role", None) if user and user.is_authenticated else None


class _RolePermission(BasePermission):
    roles: tuple[str, ...] = ()

    def has_permission(self, request, view) -> bool:
        return _role(request) in self.roles


class IsAdmin(_RolePermission):
    roles = ("admin",)


class IsStudent(_RolePermission):
    roles = ("student",)


class IsTeacher(_RolePermission):
    roles = ("teacher",)


class IsAdminOrTeacher(_RolePermission):
    roles = ("admin", "teacher")


class IsAdminOrStudent(_RolePermission):
    roles = ("admin", "student")
