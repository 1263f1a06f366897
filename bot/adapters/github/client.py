"""Building an authenticated PyGithub client: token auth (the Action) or GitHub App auth (the server).

Retries: PyGithub's `GithubRetry` backs off on 5xx and on 403 rate limits, honouring `Retry-After`
(secondary limits) and `X-RateLimit-Reset` (primary limits). Its defaults leave out PATCH (urllib3's
idempotent set plus GET and POST) and 429, which GitHub also answers for rate limits; we retry every
method we send, and 429 (urllib3 honours its `Retry-After`). Throttles: PyGithub spaces requests
(0.25 s) and writes (1 s) by default, which GitHub's best practices ask for; tests set both to 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from github import Auth, Consts, Github, GithubRetry

DEFAULT_BASE_URL = Consts.DEFAULT_BASE_URL
# Every method approvalbot sends. A write answered 5xx or 429 was most likely not done; where it was,
# the repeat is harmless for the writes that matter (the check and the diff comment are found again by
# fingerprint and marker, the merge is pinned to a sha and answers 405 once merged) and costs at worst a
# second plain comment.
RETRIED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    total: int = 10
    backoff_factor: float = 0.5  # urllib3: sleeps factor * 2**(n-1) between 5xx retries
    secondary_rate_wait: float = 60.0  # when a secondary limit gives no Retry-After
    max_rate_limit_wait: float | None = 900.0  # give up rather than wait longer for a reset

    def build(self) -> GithubRetry:
        return GithubRetry(
            total=self.total,
            backoff_factor=self.backoff_factor,
            secondary_rate_wait=self.secondary_rate_wait,
            max_rate_limit_wait=self.max_rate_limit_wait,
            # GithubRetry adds 403 (retried only when it is a rate limit) to this list.
            status_forcelist=[429, *range(500, 600)],
            allowed_methods=RETRIED_METHODS,
        )


@dataclass(frozen=True)
class ClientSettings:
    base_url: str = DEFAULT_BASE_URL  # GitHub Enterprise: https://HOST/api/v3
    retry: RetryPolicy = RetryPolicy()
    seconds_between_requests: float = Consts.DEFAULT_SECONDS_BETWEEN_REQUESTS
    seconds_between_writes: float = Consts.DEFAULT_SECONDS_BETWEEN_WRITES
    timeout: int = Consts.DEFAULT_TIMEOUT
    per_page: int = 100
    # Seconds between asking again while GitHub computes a PR's test merge (`mergeable: null`), as the
    # REST docs ask ("After giving the job time to complete, resubmit the request"); then the bot judges
    # without it (the three-way view).
    mergeable_waits: tuple[float, ...] = (0.5, 1.0, 2.0)


def read_private_key(key: str) -> str:
    """A PEM given as text, or as the path of a file holding it."""
    if "-----BEGIN" in key:
        return key
    path = Path(key)
    if not path.is_file():
        raise ValueError(
            f"GitHub App private key: {key!r} is neither PEM text nor a readable file; "
            "set APPROVALBOT_PRIVATE_KEY to the key itself or to the path of the .pem file"
        )
    text = path.read_text()
    if "-----BEGIN" not in text:
        raise ValueError(f"{path}: not a PEM private key (no '-----BEGIN' line)")
    return text


def _github(auth: Auth.Auth, settings: ClientSettings) -> Github:
    return Github(
        auth=auth,
        base_url=settings.base_url,
        retry=settings.retry.build(),
        seconds_between_requests=settings.seconds_between_requests,
        seconds_between_writes=settings.seconds_between_writes,
        timeout=settings.timeout,
        per_page=settings.per_page,
        lazy=True,  # objects are fetched when used, so a repo handle costs no API call
    )


def token_client(token: str, settings: ClientSettings | None = None) -> Github:
    """For the Action: GITHUB_TOKEN or a personal token."""
    if not token:
        raise ValueError("GitHub token is empty: set GITHUB_TOKEN (the Action) or pass a token")
    return _github(Auth.Token(token), settings or ClientSettings())


def app_client(
    app_id: int | str, private_key: str, installation_id: int, settings: ClientSettings | None = None
) -> Github:
    """For the App: an installation token obtained with the app's JWT, renewed by PyGithub before it
    expires (it refreshes when fewer than 20 seconds are left)."""
    app_auth = Auth.AppAuth(app_id, read_private_key(private_key))
    return _github(app_auth.get_installation_auth(int(installation_id)), settings or ClientSettings())
