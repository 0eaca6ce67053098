"""Mail templates (Jinja2) and their rendering into outbox rows."""
