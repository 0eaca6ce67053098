"""API schemas (Pydantic), one module per area; shared types and bases in ``base``."""
