"""The OpenAPI 3.1 document of the service (written by hand; a test checks that it names
every route)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi"]

_CODE = {"name": "code", "in": "query", "required": True,
         "description": "QR URL, bare code, GS1 Digital Link URL or stamp number",
         "schema": {"type": "string", "maxLength": 2048}}
_ERR = {"description": "error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}
_ERRORS = {"400": _ERR, "404": _ERR, "413": _ERR, "415": _ERR, "429": _ERR}
_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]


def _json(schema: dict[str, Any], desc: str = "ok") -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_CODES = {"type": "array", "items": {"type": "string"}, "maxItems": 100_000}

_SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": _STR, "message": _STR}}}},
    "Stamp": {"type": ["object", "null"], "properties": {
        "issuer": _STR, "key_id": {"type": "integer"}, "batch_id": {"type": "integer"},
        "index": {"type": "integer"}, "epc": _STR, "gtin": _NSTR, "lot": _NSTR,
        "expiry": {"type": ["string", "null"], "format": "date"}}},
    "Verdict": {"type": "object", "required": ["status", "reason", "stamp"], "properties": {
        "status": _STR, "reason": _STR, "stamp": _ref("Stamp")}},
    "Statuses": {"type": "object", "required": ["statuses"],
                 "properties": {"statuses": {"type": "array", "items": _STR}}},
    "StampStatus": {"type": "object", "properties": {
        "epc": _STR, "state": {"enum": ["active", "decommissioned"]}, "reason": _NSTR,
        "since": _NSTR, "claim": {"enum": ["unclaimed", "claimed", "locked"]},
        "claimed_at": _NSTR, "registered": {"type": "boolean"}, "suspected": _NSTR,
        "last_event_id": _NSTR, "last_event_time": _NSTR}},
    "Claim": {"type": "object", "properties": {
        "ok": {"type": "boolean"}, "result": _STR, "status": _STR, "reason": _STR,
        "claim": _STR, "attempts_left": {"type": "integer"}, "claimed_at": _NSTR,
        "event_id": _STR}},
    "Listings": {"type": "object", "required": ["ok", "reasons"], "properties": {
        "ok": {"type": "array", "items": {"type": "boolean"}},
        "reasons": {"type": "array", "items": {"type": "array", "items": _STR}}}},
}


def openapi(server_url: str | None = None) -> dict[str, Any]:
    """The document served at ``/openapi.json``."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "antifake lookup service", "version": "1",
                 "description": "Verify anti-counterfeit stamps, claim them with their PIN, "
                                "check marketplace listings and report fakes."},
        "paths": {
            "/api/v1/verify": {
                "get": {"summary": "Verify one code", "parameters": [_CODE],
                        "responses": {"200": _json(_ref("Verdict")), **_ERRORS}},
                "post": {"summary": "Verify up to 100,000 codes (statuses in input order)",
                         "requestBody": _body({"type": "object", "required": ["codes"],
                                               "properties": {"codes": _CODES}}),
                         "responses": {"200": _json(_ref("Statuses")), **_ERRORS}}},
            "/api/v1/status": {
                "get": {"summary": "Lifecycle and claim state of a registered stamp",
                        "parameters": [_CODE],
                        "responses": {"200": _json(_ref("StampStatus")), **_ERRORS}}},
            "/api/v1/claim": {
                "post": {"summary": "Claim a stamp with its scratch-off PIN (first wins)",
                         "requestBody": _body({"type": "object", "required": ["code", "pin"],
                                               "properties": {"code": _STR, "pin": _STR}}),
                         "responses": {"200": _json(_ref("Claim")), **_ERRORS}}},
            "/api/v1/listings/check": {
                "post": {"summary": "May this seller list these stamps? (records nothing)",
                         "security": _KEY,
                         "requestBody": _body({"type": "object",
                                               "required": ["seller", "codes"],
                                               "properties": {"seller": _STR,
                                                              "codes": _CODES}}),
                         "responses": {"200": _json(_ref("Listings")), "401": _ERR,
                                       **_ERRORS}}},
            "/api/v1/complaints": {
                "post": {"summary": "Report a suspected fake (stored as an event)",
                         "requestBody": _body({"type": "object", "required": ["code", "text"],
                                               "properties": {"code": _STR, "text": _STR,
                                                              "contact": _STR}}),
                         "responses": {"201": _json({"type": "object", "properties": {
                             "event_id": _STR, "epc": _STR}}), **_ERRORS}}},
            "/api/v1/evidence": {
                "get": {"summary": "Evidence bundle of a stamp (antifake-evidence/1)",
                        "security": _KEY, "parameters": [_CODE],
                        "responses": {"200": _json({"type": "object"}), "401": _ERR,
                                      **_ERRORS}}},
            "/api/v1/checkpoint": {
                "get": {"summary": "Latest signed checkpoint of the transparency log",
                        "responses": {"200": {"description": "signed note",
                                              "content": {"text/plain": {"schema": _STR}}},
                                      **_ERRORS}}},
            "/healthz": {"get": {"summary": "Liveness", "responses": {
                "200": _json({"type": "object", "properties": {"ok": {"type": "boolean"}}})}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {
                "200": _json({"type": "object"})}}},
            "/lookup": {"get": {"summary": "Typed stamp-number lookup (HTML)", "parameters": [
                {"name": "number", "in": "query", "required": True, "schema": _STR}],
                "responses": {"303": {"description": "to the stamp page"},
                              "400": {"description": "typo explained (HTML)"}}}},
            "/{code}": {
                "get": {"summary": "Consumer page of a stamp (HTML; path of the base + code)",
                        "parameters": [{"name": "code", "in": "path", "required": True,
                                        "schema": _STR}],
                        "responses": {"200": {"description": "text/html"}}},
                "post": {"summary": "Claim, report or locate form of the consumer page",
                         "parameters": [{"name": "code", "in": "path", "required": True,
                                         "schema": _STR}],
                         "responses": {"200": {"description": "text/html"}}}},
        },
        "components": {"schemas": _SCHEMAS, "securitySchemes": {
            "apiKey": {"type": "http", "scheme": "bearer",
                       "description": "created with 'antifake apikey create NAME --db ...'"}}},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
