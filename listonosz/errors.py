"""The base of every error Listonosz reports to a user as a sentence, without a traceback."""


class ListonoszError(Exception):
    """Bad input or configuration: the message says what is wrong and where."""
