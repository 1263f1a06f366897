"""How GitHub API failures reach the rest of approvalbot: as one message saying what GitHub answered."""

from __future__ import annotations

import requests
from github import GithubException

# PyGithub raises GithubException for an error answer, and requests raises RetryError (a
# RequestException) once GithubRetry has used up its retries on 5xx answers or connection errors.
API_ERRORS: tuple[type[Exception], ...] = (GithubException, requests.RequestException)

# GitHub names the permissions an endpoint accepts in this header ("Troubleshooting the REST API":
# "Resource not accessible by integration" means the token lacks them), e.g. `contents=write`.
ACCEPTED_PERMISSIONS = "x-accepted-github-permissions"


def missing_permission(error: Exception) -> str | None:
    """What GitHub says the refused call needed (`contents=write`), when it refused for a permission."""
    if not isinstance(error, GithubException) or error.status != 403:
        return None
    headers = {k.lower(): v for k, v in (error.headers or {}).items()}
    return headers.get(ACCEPTED_PERMISSIONS) or None


def permission_advice(needed: str) -> str:
    """A plain sentence for a refusal: which permission to grant, and where."""
    wanted = " or ".join(_spell(part.strip()) for part in needed.split(";") if part.strip())
    return (
        f"the token lacks the permission {wanted}: grant it to the GitHub App (Settings → Permissions), "
        "or add it to the workflow's `permissions:` in Action mode (see the README, Deployment)"
    )


def _spell(pair: str) -> str:
    name, _, level = pair.partition("=")
    return f"{name.replace('_', ' ').capitalize()}: {level}"


def describe(error: Exception) -> str:
    if isinstance(error, GithubException):
        message = error.data.get("message") if isinstance(error.data, dict) else error.data
        text = f"{error.status} {message or ''}".strip()
        needed = missing_permission(error)
        return f"{text} ({permission_advice(needed)})" if needed else text
    if isinstance(error, requests.exceptions.RetryError):
        return f"gave up after retries ({error.args[0].reason if error.args else error})"
    return f"{type(error).__name__}: {error}"
