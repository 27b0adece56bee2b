"""Errors a user can cause and fix; the CLIs print them as one line. Kept free of torch so CLIs start fast."""


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


class RunLocked(RuntimeError):
    """Another live process holds the run folder."""
