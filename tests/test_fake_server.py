import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import serve_in_thread


async def _hello(request: object) -> JSONResponse:
    return JSONResponse({"hello": "world"})


def test_fake_server_serves_on_a_free_port() -> None:
    with serve_in_thread(Starlette(routes=[Route("/hello", _hello)])) as url:
        assert httpx.get(url + "/hello").json() == {"hello": "world"}
