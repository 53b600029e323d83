"""Imports ``SHOP_ORDERS_FILE`` into the SQLite store ahead of time.

Run ``python -m actions.shop.load`` (with the project's virtual environment) after a
large orders file changed, so the first shopper does not wait for the import.
"""

from __future__ import annotations

import sys

from actions.config import settings
from actions.shop.policy import load_policy
from actions.shop.sqlite_backend import SQLiteOrderBackend


def main() -> int:
    """Imports the orders file; prints how many orders were written and stored."""
    config = settings()
    policy = load_policy(config.shop_policy_file)
    backend = SQLiteOrderBackend(config.shop_db_file, policy.returns.label_url)
    try:
        written = backend.import_file(config.shop_orders_file)
        print(f"{written} orders imported from {config.shop_orders_file} "
              f"({backend.count()} in {config.shop_db_file})")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
