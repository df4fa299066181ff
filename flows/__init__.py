"""Prefect flows: thin orchestration over ``listonosz.sending.pipeline``."""
