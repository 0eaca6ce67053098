"""The HTTP API (FastAPI): ``create_app`` builds it; routes are thin over the service layer."""

from leadflow.api.app import create_app

__all__ = ["create_app"]
