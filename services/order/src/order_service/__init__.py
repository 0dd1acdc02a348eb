"""The order service (docs/orders-and-invoices.md)."""
