"""q2c's messaging core (docs/messaging.md). Importing it makes aiokafka's writes on a closed
connection fail as connection errors under uvloop too (`uvloop_writes`)."""

from . import uvloop_writes

uvloop_writes.install()
