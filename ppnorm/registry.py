"""Registry: a name maps to a class (or function) plus the fixed arguments of that variant.

One mechanism serves models, data sets, transforms and learning-rate schedules; each keeps its
own ``Registry`` instance. Building validates the keyword arguments against the signature, so
a typo in a config is an error naming the option and the closest valid one.
"""
import difflib
import inspect


def _did_you_mean(word, candidates):
    close = difflib.get_close_matches(str(word), list(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry:
    def __init__(self, kind):
        self.kind = kind
        self._entries = {}

    def register(self, name, target, defaults=None, **fixed):
        """Register ``name`` as ``target(**fixed, **defaults, **user_kwargs)``; users may override ``defaults``."""
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = (target, fixed, dict(defaults or {}))
        return target

    def names(self):
        return sorted(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def lookup(self, name):
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} '{name}'{_did_you_mean(name, self._entries)}; "
                             f"valid: {', '.join(self.names())}")
        return self._entries[name]

    def options(self, name):
        """The keyword arguments a user may pass for ``name``."""
        target, fixed, _ = self.lookup(name)
        names = []
        for klass in (target.__mro__ if inspect.isclass(target) else (target,)):
            function = klass.__init__ if inspect.isclass(target) else klass
            params = inspect.signature(function).parameters.values()
            names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                      and p.name != "self" and p.name not in names]
            if not any(p.kind is p.VAR_KEYWORD for p in params):  # follow **options up to the base class
                break
        return [n for n in names if n not in fixed]

    def check_options(self, name, kwargs, where=None):
        """Raise a one-line error for the first keyword ``name`` does not take."""
        valid = self.options(name)
        for key in kwargs:
            if key not in valid:
                place = where or f"{self.kind} '{name}'"
                raise ValueError(f"unknown option '{key}' for {place}{_did_you_mean(key, valid)}; "
                                 f"valid: {', '.join(valid)}")

    def build(self, name, **kwargs):
        target, fixed, defaults = self.lookup(name)
        self.check_options(name, kwargs)
        return target(**fixed, **{**defaults, **kwargs})
