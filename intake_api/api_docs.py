"""`/docs` (Swagger UI) and `/redoc` (ReDoc) with every asset served by the service itself:
the scripts and styles come from the `fastapi-offline` package, so the pages work without
internet. The one address elsewhere in ReDoc's bundle (its vendor's logo, on a CDN) is pointed
at the service's own icon as the bundle is served, and a content security policy keeps the
pages to this host."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import FastAPI, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS_URL = "/static-offline-docs"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # the pages' inline start-up script (FastAPI's)
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",  # ReDoc's search worker
        "connect-src 'self'",
        "frame-ancestors 'none'",
    )
)


def _page(html: HTMLResponse) -> HTMLResponse:
    html.headers["Content-Security-Policy"] = _POLICY
    return html


@lru_cache(maxsize=1)
def _redoc_bundle() -> bytes:
    bundle = resources.files("fastapi_offline").joinpath("static/redoc.standalone.js")
    return bundle.read_bytes().replace(REDOC_LOGO, f"{ASSETS_URL}/favicon.png".encode())


def install_api_docs(app: FastAPI) -> None:
    """Serve `/docs`, `/redoc` and their assets (the app is built with docs_url=None)."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(f"{ASSETS_URL}/redoc.standalone.js", include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(_redoc_bundle(), media_type="text/javascript")

    folder = resources.files("fastapi_offline").joinpath("static")
    app.mount(ASSETS_URL, StaticFiles(directory=str(folder)), name="static-offline-docs")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _page(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
