"""Pure domain: values, rules and decisions. Imports nothing from db, api, FastAPI or psycopg."""
