"""The one exception type for errors a user can cause, and the words for a failed file operation.

The message must say what is wrong and what to do about it: the CLI prints it
and exits non-zero, the GUI shows it in a dialog.
"""

import errno
import os


class SleepScopeError(Exception):
    """A problem with the user's input or environment, explained for the user."""


_OS_ERROR_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space and run the command again",
    errno.EDQUOT: "the disk quota is used up: free some space and run the command again",
    errno.EACCES: "choose a folder you can write to, or ask for access",
    errno.EPERM: "choose a folder you can write to, or ask for access",
    errno.EROFS: "the file system is read-only: choose another folder",
}


def describe_os_error(exc: OSError, with_path: bool = True) -> str:
    """One line for a failed file operation: which file (unless `with_path` is False), what went wrong, what to do."""
    # A temporary file's name means nothing to the user: name the folder it was written in.
    names = [f"the folder {os.path.dirname(str(f)) or '.'}" if str(f).endswith(".tmp") else str(f)
             for f in (exc.filename, exc.filename2) if f is not None]
    where = " -> ".join(names) if with_path else ""
    what = exc.strerror or str(exc)
    advice = _OS_ERROR_ADVICE.get(exc.errno or 0, "check the path, its folder's permissions and the free space")
    return f"{where + ': ' if where else ''}{what}; {advice}"
