"""The one exception type that reaches the user as a single sentence."""


class UserError(Exception):
    """A problem the user can fix (bad input, red baseline, ...); printed without a traceback."""
