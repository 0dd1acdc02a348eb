"""The invoice service (docs/orders-and-invoices.md)."""
