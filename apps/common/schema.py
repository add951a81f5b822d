"""drf-spectacular hooks: document the error envelope on every operation."""

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
