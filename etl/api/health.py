"""What `GET /health` answers, from the AMI client's state and the event-driven sync's: pure.

`status` is "ok" or "degraded"; `reasons` says why it is degraded (empty when ok): AMI not
connected, or the event-driven sync's last run failed (with its redacted message). The answer is
200 either way: the process is alive; a monitor reads `status`.
"""

from __future__ import annotations

from typing import Any


def sync_off() -> dict[str, Any]:
    """The event-driven sync's status where `[ami] sync_on` is off."""
    return {"mode": "off", "state": "off"}


def health(ami: dict[str, Any], sync: dict[str, Any]) -> dict[str, Any]:
    reasons = []
    if not ami.get("connected"):
        reasons.append("AMI not connected")
    if sync.get("state") == "failing":
        error = sync.get("last_error") or {}
        reasons.append(f"event-driven sync failing: {error.get('message') or 'the last run failed'}")
    return {"status": "degraded" if reasons else "ok", "reasons": reasons, "ami": ami, "sync": sync}


_WHEN = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601"}
_LAST_RUN = {
    "type": ["object", "null"],
    "description": "The last event-triggered run (null: none yet)",
    "properties": {
        "at": {**_WHEN, "description": "when it ended, UTC"},
        "trigger": {"enum": ["ami-cdr", "ami-hangup"]},
        "outcome": {
            "enum": ["ok", "attention", "failed"],
            "description": "attention: exit 5 (rows quarantined, dead letters: `cdr1c status`)",
        },
        "exit_code": {"type": "integer"},
        "delivered": {"type": "integer", "description": "records delivered to 1C by that run"},
        "seconds": {"type": "number"},
        "waited": {"type": "integer", "description": "finished calls it looked for"},
        "not_found_yet": {"type": "integer", "description": "of those, not yet in the CDR database"},
    },
}
HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "reasons", "ami", "sync"],
    "properties": {
        "status": {"enum": ["ok", "degraded"]},
        "reasons": {
            "type": "array",
            "items": {"type": "string"},
            "description": "why degraded: AMI not connected; the event-driven sync failing (message)",
        },
        "ami": {
            "type": "object",
            "properties": {
                "connected": {"type": "boolean"},
                "host": {"type": "string"},
                "banner": {"type": ["string", "null"]},
                "connects": {"type": "integer", "description": "logins since start"},
                "last_error": {"type": ["string", "null"]},
            },
        },
        "sync": {
            "type": "object",
            "description": "The event-driven sync of `[ami] sync_on` (docs/live.md)",
            "required": ["mode", "state"],
            "properties": {
                "mode": {"enum": ["off", "cdr", "hangup"]},
                "state": {
                    "enum": ["off", "idle", "ok", "failing"],
                    "description": "idle: no run yet; failing: the last run failed (status degraded)",
                },
                "source": {"type": "string"},
                "waiting": {
                    "type": "integer",
                    "description": "finished calls (cdr: CDR uniqueids) waiting to be found or retried",
                },
                "runs": {"type": "integer"},
                "ends_seen": {"type": "integer"},
                "given_up": {"type": "integer", "description": "left to the timer's sync"},
                "last_run": _LAST_RUN,
                "last_error": {
                    "type": ["object", "null"],
                    "description": "The last failed run's message, secrets and URL passwords masked",
                    "properties": {"at": _WHEN, "message": {"type": "string"}},
                },
            },
        },
    },
}
