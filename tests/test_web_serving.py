"""The built web app is served by the server itself: cache headers, SPA fallback, CSP, and the
API's JSON errors untouched by the catch-all."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from server.middleware.security_headers import CSP
from server.state import AppState
from server.web import REPO_DIST, WebApp
from tests.conftest import make_settings

INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head></html>'


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('app')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    return tmp_path


@pytest.fixture
async def web(dist: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # Only the web route is exercised here, so the app runs without its lifespan (no database).
    app = create_app(make_settings(database_url, web_dist_dir=dist))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def test_hashed_assets_are_cached_for_a_year(web: httpx.AsyncClient) -> None:
    response = await web.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.text == "console.log('app')"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in response.headers["content-type"]


@pytest.mark.parametrize("path", ["/", "/practise", "/sessions/3f2a", "/staff?x=1"])
async def test_client_routes_get_index_html_revalidated_with_the_csp(web: httpx.AsyncClient, path: str) -> None:
    response = await web.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-security-policy"] == CSP
    assert "script-src 'self';" in CSP and "unsafe-inline" not in CSP


async def test_other_static_files_get_a_short_cache(web: httpx.AsyncClient) -> None:
    response = await web.get("/favicon.svg")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"


async def test_a_missing_asset_is_a_json_404_not_index_html(web: httpx.AsyncClient) -> None:
    response = await web.get("/assets/index-gone.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_head_is_served_too(web: httpx.AsyncClient) -> None:
    response = await web.head("/dashboard")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"


async def test_api_paths_keep_their_json_errors(client: httpx.AsyncClient, state: AppState) -> None:
    # `state` is requested up front because the shared database clean-up needs it at teardown.
    for method in ("GET", "POST"):
        response = await client.request(method, "/api/v1/no-such-thing")
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "not_found"
    wrong_method = await client.put("/api/v1/auth/login")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()


def test_paths_cannot_escape_the_dist_folder(dist: Path) -> None:
    web = WebApp(dist)
    assert web._file("/../secret.txt") is None
    assert web._file("/assets/../../secret.txt") is None
    assert web._file("/favicon.svg") == (dist / "favicon.svg").resolve()


async def test_an_unbuilt_web_app_says_how_to_build_it(tmp_path: Path, database_url: str) -> None:
    app = create_app(make_settings(database_url, web_dist_dir=tmp_path / "nothing"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        response = await c.get("/practise")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "web_not_built"


def test_the_real_build_has_no_inline_scripts_or_styles() -> None:
    index = REPO_DIST / "index.html"
    if not index.is_file():
        pytest.skip("web/dist is not built (scripts/setup builds it)")
    html = index.read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts, "index.html loads no script"
    for attributes, body in scripts:
        assert 'src="/assets/' in attributes and body.strip() == "", "inline script would break the CSP"
    assert " style=" not in html
    for asset in re.findall(r'(?:src|href)="(/assets/[^"]+)"', html):
        assert (REPO_DIST / asset.lstrip("/")).is_file()
