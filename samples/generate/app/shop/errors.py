"""Domain errors of the shop app (unknown to any logscan signature)."""


class InventoryMismatchError(Exception):
    """The counted stock of a SKU does not agree with the books."""
