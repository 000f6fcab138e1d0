"""A push in its own process, for the kill -9 tests:
`python tests/onec_push_child.py URL LEDGER [MODE [BATCH_SIZE]]` (odata, 500 by default)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etl.ledger.store import Ledger
from etl.onec.push import push
from tests.onec_helpers import onec_settings

if __name__ == "__main__":
    url, ledger_url = sys.argv[1], sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "odata"
    batch_size = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    settings = onec_settings(url, ledger_url, concurrency=4, mode=mode, batch_size=batch_size)
    ledger = Ledger.open(ledger_url)
    print(push(settings.onec, ledger), flush=True)
