"""A small FastAPI shop backend used only to produce real sample logs for logscan."""
