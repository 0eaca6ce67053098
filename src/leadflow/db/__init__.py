"""Database access: the embedded server, connections, schema, migrations and SQL per aggregate."""
