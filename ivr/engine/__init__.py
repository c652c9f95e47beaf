"""The menu engine: one async script, independent of the transport."""
