"""Report sinks: each renders the report model of analyzer.report (terminal, JSON, Markdown)."""
