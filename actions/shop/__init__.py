"""Shop integration: order backends (SQLite, Shopify), carrier status, the shop policy.

Nothing here opens a connection at import time; :mod:`actions.shop.services` builds the
process-wide clients lazily on first use.
"""
