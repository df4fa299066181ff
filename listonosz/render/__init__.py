"""Turning a campaign, a message kind and a contact into subject, HTML and text."""
