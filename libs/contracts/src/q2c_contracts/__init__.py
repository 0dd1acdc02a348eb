"""Message shapes that cross a service boundary: the external contract (CONTRACT.md) and the
internal envelope. Data only: no I/O and no business rules."""
