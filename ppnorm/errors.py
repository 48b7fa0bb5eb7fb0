"""Text for one-line error messages."""


def first_line(error):
    """The first non-blank line of ``str(error)``, stripped; the exception's type name when it has no text."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
