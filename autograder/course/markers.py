"""The solution markers, shared by release (the .py stubs) and notebooks (the lab notebook's student copy)."""

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


class ReleaseError(Exception):
    """A solution file that cannot be released; the message reads `file:line: what is wrong`."""
