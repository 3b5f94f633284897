"""Modal steps of the flows: each returns its answer through ``dismiss``."""
