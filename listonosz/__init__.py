"""Listonosz: email invitations and newsletters for public institutions and NGOs.

The core package is plain Python; Prefect orchestration lives in the top-level ``flows`` package.
"""

__version__ = "0.1.0"
