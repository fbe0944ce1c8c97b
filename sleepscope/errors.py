"""The one exception type for errors a user can cause.

The message must say what is wrong and what to do about it: the CLI prints it
and exits non-zero, the GUI shows it in a dialog.
"""


class SleepScopeError(Exception):
    """A problem with the user's input or environment, explained for the user."""
