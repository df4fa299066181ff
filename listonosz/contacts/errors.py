"""The error for a contact file that cannot be read at all."""

from listonosz.errors import ListonoszError


class ContactFileError(ListonoszError, ValueError):
    """A contact file that cannot be read at all; the message names the file and the cause."""
