"""Errors that job code raises to tell the worker what to do."""


class TransientJobError(Exception):
    """A failure that may pass (a dependency timed out or is restarting): the job is retried.

    Raise it only when running the same job again can succeed; anything else fails the job at once.
    """
