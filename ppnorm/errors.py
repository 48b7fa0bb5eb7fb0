"""Text for one-line error messages, the integer check most options share, and an error that names its option."""


import re

# Lines of Paddle's error reports that say where, not what: its "In user code:" preamble, stack frames, banners.
_PREAMBLE = re.compile(r"^(In user code:|File \"|C\+\+ Traceback|-{4,}|Error Message Summary:?$|\[operator <)")
_PADDLE_SOURCE = re.compile(r"\s*\(at /paddle/[^)]*\)")  # "(at /paddle/phi/...cc:642)": Paddle's own source line


def first_line(error):
    """The first informative line of ``str(error)``, stripped: Paddle's ``In user code:`` preamble, stack frames and
    source locations are skipped; the exception's type name when it has no text."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    informative = [line for line in lines if not _PREAMBLE.match(line) and not line.startswith("[Hint")]
    line = next(iter(informative or lines), type(error).__name__)
    return _PADDLE_SOURCE.sub("", line)


def check_count(name, value, minimum, hint=""):
    """One-line ``ValueError`` unless ``value`` is an integer >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{hint}, got {value!r}")


class NormOptionError(ValueError):
    """A norm option the layer cannot take; ``option`` names it and ``suggestion`` is a value that works."""

    def __init__(self, message, option, suggestion):
        super().__init__(message)
        self.option, self.suggestion = option, suggestion
