"""The console (admins, ``/console``) and the provider portal (``/portal``): server-rendered
pages over the same services as the JSON API (SPEC §13)."""

from leadflow.console.install import install

__all__ = ["install"]
