"""An app that includes the router has a working ``/docs``: its OpenAPI schema builds."""

from __future__ import annotations

import fastapi
import httpx
import pytest
import starlette
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from sora_async.contrib.fastapi import create_router, sora_lifespan

ROUTES = {
    ("POST", "/api/videos"),
    ("GET", "/api/videos/{job_id}"),
    ("GET", "/api/videos/{job_id}/events"),
    ("POST", "/api/batches"),
    ("GET", "/api/batches/{batch_id}"),
}


def make_app(router: APIRouter | None = None) -> FastAPI:
    app = FastAPI(lifespan=sora_lifespan(simulate=True))
    app.include_router(router or create_router(prefix="/api"))
    return app


@pytest.mark.anyio
async def test_openapi_json_and_docs_answer() -> None:
    # No lifespan is needed to serve the schema: this is what a browser on /docs asks for.
    app = make_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        schema = await http.get("/openapi.json")
        docs = await http.get("/docs")
    versions = f"FastAPI {fastapi.__version__}, Starlette {starlette.__version__}"
    assert schema.status_code == 200, versions
    assert docs.status_code == 200
    paths = schema.json()["paths"]
    listed = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert listed == ROUTES


def test_the_schema_lists_every_route_of_the_router() -> None:
    router = create_router(prefix="/api")
    routes = {
        (method, route.path)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert routes == ROUTES
    schema = make_app(router).openapi()
    assert {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops} == routes


def test_the_events_route_documents_an_event_stream() -> None:
    answer = make_app().openapi()["paths"]["/api/videos/{job_id}/events"]["get"]["responses"]
    ok = answer["200"]
    assert list(ok["content"]) == ["text/event-stream"]
    assert "event: status" in ok["description"]


def test_the_json_routes_document_their_models() -> None:
    paths = make_app().openapi()["paths"]
    created = paths["/api/videos"]["post"]["responses"]["202"]["content"]["application/json"]
    assert created["schema"] == {"$ref": "#/components/schemas/Job"}
    batch = paths["/api/batches/{batch_id}"]["get"]["responses"]["200"]["content"]
    assert batch["application/json"]["schema"] == {"$ref": "#/components/schemas/BatchView"}
