"""The error every stage raises for unusable input (kept free of heavy imports: the workflow's config check uses it)."""

__all__ = ["InputError"]


class InputError(ValueError):
    """A user-supplied file or setting is unusable; the message names the file (or key) and the problem."""
