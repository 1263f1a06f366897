"""How GitHub API failures reach the rest of approvalbot: as one message saying what GitHub answered."""

from __future__ import annotations

import requests
from github import GithubException

# PyGithub raises GithubException for an error answer, and requests raises RetryError (a
# RequestException) once GithubRetry has used up its retries on 5xx answers or connection errors.
API_ERRORS: tuple[type[Exception], ...] = (GithubException, requests.RequestException)


def describe(error: Exception) -> str:
    if isinstance(error, GithubException):
        message = error.data.get("message") if isinstance(error.data, dict) else error.data
        return f"{error.status} {message or ''}".strip()
    if isinstance(error, requests.exceptions.RetryError):
        return f"gave up after retries ({error.args[0].reason if error.args else error})"
    return f"{type(error).__name__}: {error}"
