"""Security headers, HTTPS redirect and HSTS (SPEC §8.6). The browser side is tests/browser/."""

import base64
import hashlib
import re
from pathlib import Path

import drf_spectacular
import pytest
from django.conf import settings as django_settings

pytestmark = pytest.mark.django_db

PROBES = ["/health", "/ready", "/metrics"]


def _directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


@pytest.mark.parametrize("path", ["/health", "/api/v1/scheduling/slots/open", "/docs", "/admin/login/", "/nowhere"])
def test_every_response_carries_the_policy_and_the_headers(client, path):
    response = client.get(path)

    directives = _directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no inline script anywhere, no eval
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"] and directives["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_the_allowed_inline_style_is_exactly_swagger_uis(client):
    """The hash in settings is recomputed from the installed drf-spectacular template."""
    template = Path(drf_spectacular.__file__).parent / "templates" / "drf_spectacular" / "swagger_ui.html"
    style = re.search(r"<style>(.*?)</style>", template.read_text(), re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()

    assert django_settings.SWAGGER_UI_INLINE_STYLE_HASH == f"'sha256-{digest}'"
    assert f"'sha256-{digest}'" in _directives(client.get("/docs"))["style-src"]


def test_docs_page_has_no_inline_script(client):
    html = client.get("/docs").content.decode()

    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attributes for attributes in scripts), scripts
    start_up = client.get("/docs", {"script": ""})
    assert start_up.status_code == 200
    assert start_up["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in start_up.content


def test_ssl_redirect_spares_the_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/api/v1/scheduling/slots/open")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/v1/scheduling/slots/open"
    assert response["X-Request-ID"]  # even a redirect is traced
    for path in PROBES:
        assert client.get(path).status_code == 200, path


def test_behind_a_tls_balancer_the_forwarded_proto_counts_and_hsts_is_sent(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True

    response = client.get("/api/v1/scheduling/slots/open", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert client.get("/api/v1/scheduling/slots/open", HTTP_X_FORWARDED_PROTO="http").status_code == 301


def test_by_default_nothing_redirects_and_no_hsts(client):
    """`make run` and docker compose serve plain HTTP."""
    response = client.get("/api/v1/scheduling/slots/open")

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response


def test_the_prebuilt_policy_is_exactly_what_django_csp_builds(client):
    from csp.utils import build_policy

    assert client.get("/health")["Content-Security-Policy"] == build_policy()


def test_per_view_policy_changes_still_go_through_django_csp(rf):
    from csp.decorators import csp_exempt, csp_update
    from django.http import HttpResponse

    from apps.common.middleware import StaticPolicyCSPMiddleware

    exempt = StaticPolicyCSPMiddleware(csp_exempt()(lambda request: HttpResponse()))
    assert "Content-Security-Policy" not in exempt(rf.get("/x"))
    updated = StaticPolicyCSPMiddleware(csp_update({"img-src": "https://img.example"})(lambda request: HttpResponse()))
    assert "https://img.example" in updated(rf.get("/x"))["Content-Security-Policy"]

    def uses_a_nonce(request):
        return HttpResponse(str(request.csp_nonce))

    response = StaticPolicyCSPMiddleware(uses_a_nonce)(rf.get("/x"))
    assert (
        response["Content-Security-Policy"]
        == StaticPolicyCSPMiddleware(lambda r: HttpResponse())(rf.get("/x"))["Content-Security-Policy"]
    )  # no NONCE in our directives: django-csp leaves the policy as it is
