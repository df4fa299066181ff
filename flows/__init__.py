"""Prefect flows: thin orchestration over ``listonosz.pipeline``."""
