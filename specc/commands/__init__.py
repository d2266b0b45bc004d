"""One module per ``specc`` command; each is a thin wrapper over the library API."""
