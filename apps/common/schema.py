"""drf-spectacular: operation ids from the path, and the error envelope on every operation."""

import re

from drf_spectacular.openapi import AutoSchema

API_PREFIX = "/api/v1/"
_PARAMETER = re.compile(r"\{\w+\}")
# Actions DRF's router maps by name (GET/POST on the collection, GET/PATCH on an item).
STANDARD_ACTIONS = frozenset({"list", "create", "retrieve", "partial_update"})
# A second method on another action's path is named as DRF names that method on an item.
METHOD_ACTIONS = {"put": "update", "patch": "partial_update", "delete": "destroy", "post": "create"}


class ApiAutoSchema(AutoSchema):
    """Operation ids read as the path: `POST /booking/{id}/confirm` is `booking_confirm`.

    The path's words without its parameters (what a segment holds besides
    one stays: `/calendar/{token}.ics` is `calendar_ics`), then the action for the standard
    ones (`teachers_profiles_list`, `lessons_partial_update`) and `_list` for
    another action answering a page (`booking_my_list`); a second method on
    another action's path adds DRF's name for that method
    (`PATCH /identity/users/me` is `identity_users_me_partial_update`). An action
    that must keep another id says `operation_id=` in its `@endpoint`.
    """

    def get_operation_id(self) -> str:
        segments = (_PARAMETER.sub("", segment).strip(".") for segment in self.path.removeprefix(API_PREFIX).split("/"))
        words = [word for word in segments if word]
        action = getattr(self.view, "action", None)
        handler = getattr(self.view, action, None) if action else None
        spec = getattr(handler, "endpoint", None)
        if action in STANDARD_ACTIONS:
            words.append(action)
        elif hasattr(handler, "mapped_to"):
            words.append(METHOD_ACTIONS[spec.method])
        elif spec is not None and spec.page:
            words.append("list")
        return "_".join(words).replace("-", "_")


_ERROR_STATUSES = {
    "400": "Validation error",
    "401": "Not authenticated or invalid token",
    "403": "Forbidden",
    "404": "Not found",
    "409": "Conflict",
    "422": "Business rule violation",
    "429": "Rate limited",
    "500": "Internal error",
}
# Only where a body is taken (apps.common.middleware.JsonBodyMiddleware).
_BODY_ERROR_STATUSES = {
    "413": "Request body larger than DATA_UPLOAD_MAX_MEMORY_SIZE",
    "415": "Request body is not application/json",
}


def add_error_responses(result, generator, request, public):
    ref = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = {**_ERROR_STATUSES, **(_BODY_ERROR_STATUSES if "requestBody" in operation else {})}
            for status_code, description in statuses.items():
                operation["responses"].setdefault(
                    status_code, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result
