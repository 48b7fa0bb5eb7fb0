"""Text for one-line error messages, and the integer check most options share."""


def first_line(error):
    """The first non-blank line of ``str(error)``, stripped; the exception's type name when it has no text."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def check_count(name, value, minimum, hint=""):
    """One-line ``ValueError`` unless ``value`` is an integer >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{hint}, got {value!r}")
