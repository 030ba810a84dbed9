"""The data model every other layer shares: programs, batches, errors, circuits, settings."""
