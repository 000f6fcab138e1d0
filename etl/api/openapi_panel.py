"""The OpenAPI paths of the panel and of per-employee access (etl/api/panel_routes.py), merged
into the document by etl/api/openapi.py."""

from __future__ import annotations

from typing import Any

ACCESS = (
    "Every path but `/health` needs a bearer token: the `[api] token` (the administrator's: "
    "everything) or an employee's from `cdr1c tokens add EXT --role manager|supervisor`. A "
    "**manager** originates, intercepts and picks up only to their own extension and follows only "
    "their own extension's events and calls' cards; a **supervisor** may also listen, whisper and "
    "barge (`supervisor` = their own extension) and follow everyone's events. Anything else: 403. "
    "The panel (`GET /panel`, an HTML page outside this API) signs in by `GET /panel/login?code=…` "
    "with a one-time code from `POST /v1/panel/links`, which sets an HttpOnly SameSite=Strict "
    "session cookie (`cookie` scheme); a request the cookie authenticates that changes anything "
    "must also send `X-Cdr1c-Panel: 1`."
)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, **_json(schema)}


def _err(*codes: int) -> dict[str, Any]:
    text = {
        401: "missing or wrong token or session",
        403: "the token's role or extension does not allow it",
        404: "no such recent call, or nothing rings at or talks on the extension",
        422: "a value the configuration does not allow",
    }
    return {str(c): _ok(text[c], {"$ref": "#/components/schemas/Error"}) for c in codes}


_OBJ = {"type": "object"}
_ROLE = {"enum": ["admin", "supervisor", "manager"]}


def panel_paths(ext_schema: dict[str, Any], call_param: dict[str, Any]) -> dict[str, Any]:
    return {
        "/v1/events/poll": {
            "get": {
                "summary": "Long-poll the events after a cursor (for 1C code that cannot read SSE)",
                "description": "Returns at once when there are events after `after`, else waits up to "
                "`wait` seconds (at most 25) for one. Without `after`: from now on. Keep `cursor` for "
                "the next call; `lost` is true when events were dropped between (over 1000 behind). "
                "A manager gets their own extension's events; every caller gets `line`, `queue` and "
                "`ami` events.",
                "operationId": "poll",
                "parameters": [
                    {"name": "extension", "in": "query", "required": False, "schema": ext_schema},
                    {"name": "after", "in": "query", "required": False, "schema": {"type": "integer"}},
                    {
                        "name": "wait",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "number", "minimum": 0, "maximum": 25, "default": 0},
                    },
                ],
                "responses": {
                    "200": _ok(
                        "the events (possibly none) and the next cursor",
                        {
                            "type": "object",
                            "properties": {
                                "events": {"type": "array", "items": _OBJ},
                                "cursor": {"type": "integer"},
                                "lost": {"type": "boolean"},
                            },
                            "required": ["events", "cursor", "lost"],
                        },
                    ),
                    **_err(401, 403, 422),
                },
            }
        },
        "/v1/me": {
            "get": {
                "summary": "Who the token or session is: role, extension, name; AMI state",
                "operationId": "me",
                "responses": {
                    "200": _ok(
                        "the principal",
                        {
                            "type": "object",
                            "properties": {
                                "role": _ROLE,
                                "extension": {"type": ["string", "null"]},
                                "name": {"type": "string"},
                                "lang": {"enum": ["ru", "en"]},
                                "ami": _OBJ,
                            },
                            "required": ["role", "extension"],
                        },
                    ),
                    **_err(401),
                },
            }
        },
        "/v1/panel/links": {
            "post": {
                "summary": "A one-time sign-in link for the panel (valid 60 s, works once)",
                "description": "1C asks it with the employee's token and opens `url` in the form's "
                "HTML field; the answer to that URL sets the session cookie and redirects to /panel.",
                "operationId": "panelLink",
                "responses": {
                    "201": _ok(
                        "the code and the path to open",
                        {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "url": {"type": "string", "examples": ["/panel/login?code=…"]},
                                "expires_in": {"type": "integer"},
                            },
                            "required": ["code", "url"],
                        },
                    ),
                    **_err(401),
                },
            }
        },
        "/v1/panel/logout": {
            "post": {
                "summary": "End the panel session (the cookie)",
                "operationId": "panelLogout",
                "responses": {"200": _ok("signed out", _OBJ), **_err(401)},
            }
        },
        "/v1/queues": {
            "get": {
                "summary": "Callers waiting in queues, with their 1C client and its manager's extension",
                "operationId": "queues",
                "responses": {
                    "200": _ok(
                        "the waiters; take one with POST /v1/calls/{linkedid}/intercept",
                        {
                            "type": "object",
                            "properties": {
                                "waiting": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "queue": {"type": "string"},
                                            "position": {"type": "integer"},
                                            "linkedid": {"type": "string"},
                                            "caller": {"type": "string"},
                                            "caller_name": {"type": "string"},
                                            "client": {"type": ["string", "null"]},
                                            "manager_extension": {"type": ["string", "null"]},
                                            "since": {"type": "number"},
                                        },
                                    },
                                },
                                "ami": _OBJ,
                            },
                        },
                    ),
                    **_err(401),
                },
            }
        },
        "/v1/calls/{id}/card": {
            "get": {
                "summary": "The incoming call card: the caller, the 1C client, last and open missed calls",
                "operationId": "card",
                "parameters": [call_param],
                "responses": {
                    "200": _ok(
                        "the card (client null when the number is no 1C client's)",
                        {
                            "type": "object",
                            "properties": {
                                "linkedid": {"type": "string"},
                                "number": {"type": "string"},
                                "caller_name": {"type": "string"},
                                "client": {
                                    "type": ["object", "null"],
                                    "properties": {
                                        "ref": {"type": "string"},
                                        "name": {"type": "string"},
                                        "manager": {"type": ["string", "null"]},
                                        "manager_extension": {"type": ["string", "null"]},
                                        "link": {
                                            "type": ["string", "null"],
                                            "examples": ["e1cib/data/Справочник.Контрагенты?ref=…"],
                                        },
                                    },
                                },
                                "last_calls": {"type": "array", "items": _OBJ},
                                "open_missed": {"type": "array", "items": _OBJ},
                            },
                        },
                    ),
                    **_err(401, 403, 404),
                },
            }
        },
        "/v1/extensions/{ext}/call": {
            "get": {
                "summary": "The call ringing at or talking on an extension (for pick up, listen)",
                "operationId": "lineCall",
                "parameters": [{"name": "ext", "in": "path", "required": True, "schema": ext_schema}],
                "responses": {
                    "200": _ok(
                        "the call",
                        {
                            "type": "object",
                            "properties": {
                                "extension": {"type": "string"},
                                "linkedid": {"type": "string"},
                                "state": {"enum": ["ringing", "answered"]},
                            },
                        },
                    ),
                    **_err(401, 404, 422),
                },
            }
        },
    }
