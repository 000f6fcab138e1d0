"""The 1C stand-in: a `Publication` served by a threading HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from etl.config import DEFAULT_ONEC_KEY

from .model import Faults
from .publication import Publication
from .server import make_server


class StandIn(Publication):
    """The 1C publication: in-memory entity sets behind a threading HTTP server on loopback."""

    def __init__(
        self,
        *,
        user: str = "Администратор",
        password: str = "пароль-секрет",
        base: str = "/crm",
        register: str = "InformationRegister_ЗвонкиАТС",
        fields: Mapping[str, str] | None = None,
        key: Sequence[str] = DEFAULT_ONEC_KEY,
        service_path: str = "hs/cdr1c/records",
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(
            user=user, password=password, base=base, register=register, fields=fields, key=key,
            service_path=service_path, faults=faults,
        )  # fmt: skip
        self._server = make_server(self, host, port)
        self._thread: threading.Thread | None = None

    # --- server ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.base}"

    def start(self) -> StandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, name="onec-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.close()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
