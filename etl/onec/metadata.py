"""`$metadata`: parse the publication's CSDL, check the configured mapping against it.

1C silently ignores unknown fields on write and truncates long strings
(docs/reference/onec-http.md §1.6), so a
typo in `[onec.fields]` would lose data without a single error. `mapping_problems` compares
every configured entity set and field with the publication's CSDL. The document is 10–17 MB and
takes ~20 s on a real base (§1.1, [P4]): it is parsed as a stream into a small index (entity
set → field → type, length; key). `cdr1c check` reads it fresh each time and writes nothing.
"""

from __future__ import annotations

import io
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from etl.config import OnecSettings
from etl.onec.client import content_hint
from etl.onec.readers import event_client_field
from etl.onec.records import NUMERIC_TYPES, ROW_FIELD_TYPES


@dataclass
class MetadataIndex:
    sets: dict[str, dict[str, tuple[str, int | None]]]  # entity set → field → (type, length)
    keys: dict[str, list[str]]
    fetched: float


def parse_metadata(data: bytes) -> MetadataIndex:
    """Stream-parse a CSDL document into entity sets with their fields and keys."""
    types: dict[str, dict[str, tuple[str, int | None]]] = {}
    type_keys: dict[str, list[str]] = {}
    set_types: dict[str, str] = {}
    for _, el in ET.iterparse(io.BytesIO(data), events=("end",)):
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "EntityType":
            fields: dict[str, tuple[str, int | None]] = {}
            keys: list[str] = []
            for child in el:
                ctag = child.tag.rsplit("}", 1)[-1]
                if ctag == "Property":
                    ml = child.get("MaxLength")
                    fields[child.get("Name", "")] = (
                        child.get("Type", ""),
                        int(ml) if ml and ml.isdigit() else None,
                    )
                elif ctag == "Key":
                    keys = [r.get("Name", "") for r in child]
            name = el.get("Name", "")
            types[name], type_keys[name] = fields, keys
            el.clear()
        elif tag == "EntitySet":
            set_types[el.get("Name", "")] = el.get("EntityType", "").rsplit(".", 1)[-1]
    sets = {s: types.get(t, {}) for s, t in set_types.items()}
    set_keys = {s: type_keys.get(t, []) for s, t in set_types.items()}
    return MetadataIndex(sets, set_keys, time.time())


def _compatible(expected: str, actual: str) -> bool:
    if expected in NUMERIC_TYPES:
        return actual in NUMERIC_TYPES
    return expected == actual


def mapping_problems(cfg: OnecSettings, index: MetadataIndex) -> list[str]:
    """Every configured entity set or field that does not exist or has an incompatible type."""
    problems: list[str] = []
    if cfg.mode == "odata":
        reg = index.sets.get(cfg.register)
        if reg is None:
            problems.append(
                f"register {cfg.register} is not in the OData content: {content_hint(cfg.register)}"
            )
        else:
            for name, row_name in cfg.fields.items():
                if name not in reg:
                    problems.append(
                        f"[onec.fields] {name!r} (← {row_name}): no such field in {cfg.register}; "
                        "1C would silently drop it"
                    )
                    continue
                expected, length = ROW_FIELD_TYPES.get(row_name, ("Edm.String", None))
                actual, actual_len = reg[name]
                if not _compatible(expected, actual):
                    problems.append(
                        f"[onec.fields] {name!r} (← {row_name}) is {actual} in 1C, expected {expected}"
                    )
                elif name in cfg.key and length and actual_len and actual_len < length:
                    problems.append(
                        f"key field {name!r} is String({actual_len}) in 1C; row ids up to "
                        f"{length} characters would be truncated and collide"
                    )
            reg_keys = set(index.keys.get(cfg.register, []))
            for k in cfg.key:
                if reg_keys and k not in reg_keys:
                    problems.append(
                        f"[onec] key {k!r} is not a dimension of {cfg.register} (its key is "
                        f"{', '.join(sorted(reg_keys))}); re-sends could duplicate records"
                    )
    wanted = {  # entity set → (what it is, the fields cdr1c reads: config key → field)
        cfg.event_document: ("event document", {
            "event_call_id_field": cfg.event_call_id_field, "event_date_field": cfg.event_date_field,
            "event_client_field": event_client_field(cfg),
            "event_responsible_field": cfg.event_responsible_field,
        }),
        cfg.client_catalog: ("client catalog", {"manager_field": cfg.manager_field}),
        cfg.client_catalog + "_КонтактнаяИнформация": ("client phones", {}),
        cfg.users_catalog: ("employees", {"user_extension_field": cfg.user_extension_field}),
    }  # fmt: skip
    for name, (what, fields) in wanted.items():
        have = index.sets.get(name)
        if have is None:
            problems.append(f"{what} {name} is not in the OData content: {content_hint(name)}")
            continue
        for key, f in fields.items():
            if f and f not in have and f + "_Key" not in have:
                problems.append(
                    f"{name} has no field {f!r} ([onec] {key}): set it to the attribute's name "
                    "in 1C or add the attribute (docs/onec-setup.md §4)"
                )
    return problems
