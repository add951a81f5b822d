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


def add_error_responses(result, generator, request, public):
    ref = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status_code, description in _ERROR_STATUSES.items():
                operation["responses"].setdefault(
                    status_code, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result
