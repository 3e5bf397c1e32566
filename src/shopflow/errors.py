"""The base of every error shopflow raises on purpose.

Each subclass's message names what was wrong and where (the variable, partition, card, URL...), so
the command line prints it as one line without a traceback (`cli_commands.common.clean_errors`),
and callers can catch `ShopflowError` to tell the platform's verdicts from bugs. Subclasses also
keep a built-in base (ValueError for bad input, RuntimeError for a failed step) for code that
catches those.
"""


class ShopflowError(Exception):
    """A failure shopflow detected and explained; the message is the whole story."""
