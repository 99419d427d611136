"""Reports: the report model (`model`), the closing summary, and its sinks (terminal, JSON, Markdown, HTML, Sentry)."""
