"""The OpenAPI 3.1 document of the live API, served at `/openapi.json`."""

from __future__ import annotations

from typing import Any

from etl.api.health import HEALTH_SCHEMA
from etl.api.openapi_panel import ACCESS, panel_paths

_ERR = {"$ref": "#/components/schemas/Error"}
_EXT = {"type": "string", "pattern": "^[0-9A-Za-z]{1,20}$", "examples": ["101"]}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out.update(_json(schema))
    return out


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "body is not JSON",
        401: "missing or wrong bearer token",
        403: "the token's role or extension does not allow it (etl/api/access.py)",
        404: "not found (for a call: not on the PBX, ended or never seen by cdr1c)",
        409: "the call has no caller leg to move, or nothing rings to pick up",
        422: "a value the configuration does not allow",
        429: "originate rate exceeded",
        502: "Asterisk refused the action",
        503: "AMI not connected",
        504: "Asterisk did not answer",
    }
    return {str(c): _resp(text[c], _ERR) for c in codes}


def _body(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        **_json({"type": "object", "properties": props, "required": required}),
    }


_ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "examples": ["c1c-1f0e…", "PJSIP/101-0000002a"]},
    "description": "ChannelId returned by POST /v1/calls, a uniqueid or a channel name",
}
_STARTED = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string"},
        "mode": {"type": "string"},
    },
    "required": ["id", "status"],
}
_COMMON = (400, 401, 403, 422, 502, 503, 504)
_CALL_ID_PARAM = {
    **_ID_PARAM,
    "schema": {"type": "string", "examples": ["1796555585.32"]},
    "description": "The call: the `linkedid` of a ringing/answered event (a uniqueid or channel "
    "name of one of its legs names the same call). The caller's leg is found by cdr1c; a phone's "
    "leg is never moved.",
}
_INTERCEPTED = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "redirect: the id given; pickup: the new call's id"},
        "status": {"enum": ["redirected", "queued"]},
        "mode": {"enum": ["redirect", "pickup"]},
        "linkedid": {"type": "string", "description": "redirect: the call"},
        "channel": {"type": "string", "description": "redirect: the caller's channel moved"},
        "uniqueid": {"type": "string", "description": "redirect: its uniqueid"},
    },
    "required": ["id", "status", "mode"],
}
_LEG = {"type": ["string", "null"]}
_SCREEN_POP = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "type": {"enum": ["ringing", "answered", "hangup"]},
        "extension": {"type": "string"},
        "caller": {
            "type": "string",
            "description": "the external number, normalised; for a click-to-call the dialled number",
        },
        "caller_name": {"type": "string", "description": "the caller ID name, as the PBX got it"},
        "client": _LEG,
        "linkedid": {"type": "string", "description": "the call: use it to intercept"},
        "uniqueid": {"type": "string", "description": "the phone's leg (not to intercept)"},
        "channel": {"type": "string", "description": "the phone's leg channel"},
        "caller_uniqueid": _LEG,
        "caller_channel": _LEG,
        "ts": {"type": "number"},
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cdr1c live API",
            "version": "1",
            "description": "Click-to-call, interception, spy, line status and screen-pop events "
            "for 1C:Enterprise, over Asterisk AMI, and the telephony panel at `/panel`. " + ACCESS,
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "cdr1c_panel"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
                "ScreenPopEvent": _SCREEN_POP,
                "Job": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "since": {"type": "string", "format": "date"},
                        "until": {"type": "string", "format": "date"},
                        "status": {"enum": ["queued", "running", "done", "failed"]},
                        "exit_code": {"type": ["integer", "null"]},
                        "error": {"type": ["string", "null"]},
                        "created": {"type": "number"},
                        "started": {"type": ["number", "null"]},
                        "finished": {"type": ["number", "null"]},
                    },
                    "required": ["id", "status"],
                },
            },
        },
        "paths": {
            "/v1/calls": {
                "post": {
                    "summary": "Click-to-call: ring the employee, then dial the number",
                    "operationId": "originate",
                    "requestBody": _body(
                        {
                            "from": _EXT,
                            "to": {
                                "type": "string",
                                "pattern": "^[0-9+ ().\u00a0-]{1,64}$",
                                "examples": ["+7 (495) 123-45-67", "84951234567"],
                                "description": "a number as people write it (digits, a leading +, "
                                "spaces, dashes, dots, brackets; no control characters); dialled in "
                                "the configured dial_format",
                            },
                        },
                        ["from", "to"],
                    ),
                    "responses": {
                        "201": _resp("queued; id is the ChannelId the call's CDR rows carry", _STARTED),
                        **_errors(*_COMMON, 429),
                    },
                }
            },
            "/v1/calls/{id}/intercept": {
                "post": {
                    "summary": "Send a waiting or ringing call to an extension",
                    "operationId": "intercept",
                    "parameters": [_CALL_ID_PARAM],
                    "requestBody": _body(
                        {
                            "to": _EXT,
                            "mode": {"enum": ["redirect", "pickup"], "default": "redirect"},
                        },
                        ["to"],
                    ),
                    "responses": {
                        "200": _resp(
                            "redirected, or pickup queued (outcome later as a pickup_result "
                            "event: success only when the call was picked up)",
                            _INTERCEPTED,
                        ),
                        **_errors(*_COMMON, 404, 409, 429),
                    },
                }
            },
            "/v1/calls/{id}": {
                "delete": {
                    "summary": "Hang up a call",
                    "operationId": "hangup",
                    "parameters": [_ID_PARAM],
                    "responses": {
                        "200": _resp("hung up", _STARTED),
                        **_errors(401, 403, 422, 502, 503, 504),
                    },
                }
            },
            "/v1/spy": {
                "post": {
                    "summary": "Listen to, whisper into or barge into an agent's call",
                    "operationId": "spy",
                    "requestBody": _body(
                        {
                            "supervisor": _EXT,
                            "target": _EXT,
                            "mode": {"enum": ["listen", "whisper", "barge"], "default": "listen"},
                        },
                        ["supervisor", "target"],
                    ),
                    "responses": {"201": _resp("queued", _STARTED), **_errors(*_COMMON, 429)},
                }
            },
            "/v1/extensions": {
                "get": {
                    "summary": "Line status of every extension",
                    "description": "The hint's state of each extension (8 while it rings). While "
                    "AMI is down: the last known states, with ami.connected false.",
                    "operationId": "extensions",
                    "responses": {
                        "200": _resp(
                            "states",
                            {
                                "type": "object",
                                "properties": {
                                    "extensions": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "exten": {"type": "string"},
                                                "status": {"type": "integer"},
                                                "status_text": {"type": "string"},
                                                "hint": {"type": "string"},
                                                "context": {"type": "string"},
                                                "updated": {"type": "number"},
                                            },
                                        },
                                    },
                                    "ami": {"type": "object"},
                                },
                            },
                        ),
                        **_errors(401),
                    },
                }
            },
            "/v1/events": {
                "get": {
                    "summary": "Ringing / answered / hangup events (SSE) for screen pop",
                    "operationId": "events",
                    "parameters": [{"name": "extension", "in": "query", "required": False, "schema": _EXT}],
                    "responses": {
                        "200": {
                            "description": "an event stream; each `data:` line is a JSON object: "
                            "a screen-pop event (schema ScreenPopEvent), an originate/pickup/spy "
                            "result, or for every subscriber `line` (an extension's new state), "
                            "`queue` (the waiters changed) and `ami` (connected true/false); the "
                            "stream ends when the service stops (reconnect then)",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        **_errors(401, 403, 422),
                    },
                }
            },
            "/v1/backfill": {
                "post": {
                    "summary": "Start a backfill of a date range in the background",
                    "operationId": "backfill",
                    "requestBody": _body(
                        {
                            "since": {"type": "string", "format": "date"},
                            "until": {"type": "string", "format": "date"},
                        },
                        ["since", "until"],
                    ),
                    "responses": {
                        "202": _resp("started", {"$ref": "#/components/schemas/Job"}),
                        **_errors(400, 401, 403, 422, 503),
                    },
                }
            },
            "/v1/jobs/{id}": {
                "get": {
                    "summary": "Follow a backfill",
                    "operationId": "job",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _resp("the job", {"$ref": "#/components/schemas/Job"}),
                        **_errors(401, 403, 404),
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Liveness, the AMI connection and the event-driven sync (no token needed)",
                    "operationId": "health",
                    "security": [],
                    "responses": {"200": _resp("ok or degraded, with the reasons", HEALTH_SCHEMA)},
                }
            },
            **panel_paths(_EXT, _CALL_ID_PARAM),
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {"200": _resp("OpenAPI 3.1", {"type": "object"}), **_errors(401)},
                }
            },
        },
    }
