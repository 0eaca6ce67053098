"""leadflow: lead distribution for lead marketplaces."""

__version__ = "0.1.0"
