"""What a user-given class accepts, read from its signature."""

import inspect


def accepts(cls, name):
    """Whether ``cls(...)`` takes the keyword ``name`` (or any keyword).

    Examples
    --------
    >>> def make(a, b=1): ...
    >>> accepts(make, "b"), accepts(make, "c"), accepts(lambda **kw: None, "c")
    (True, False, True)
    """
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
