"""The scenario driver: what people do on GitHub, as Python calls, each firing GitHub's webhooks.

Webhooks are queued while the world is locked and sent once it is released, so a receiver that calls
back into the emulator's API (as the bot does) never deadlocks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.emulator import drafts, events, forks
from bot.emulator.gitobjects import Identity
from bot.emulator.merges import MergeMethod, write_merge
from bot.emulator.permissions import Grant, Level, Permission
from bot.emulator.state import (
    DEFAULT_APP_PERMISSIONS,
    App,
    Installation,
    IssueComment,
    PullRequest,
    Repo,
    Review,
    Team,
)

if TYPE_CHECKING:
    from bot.emulator.server import GitHubEmulator

FileEdits = Mapping[str, bytes | str | None]  # path → new content, None deletes the file
Person = str | Identity

REVIEW_STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


def identity(who: Person) -> Identity:
    if isinstance(who, Identity):
        return who
    return Identity(who, f"{who}@users.noreply.github.com", who)


class Driver:
    def __init__(self, emulator: GitHubEmulator) -> None:
        self.emu = emulator
        self.world = emulator.world
        self._outbox: list[tuple[str, dict[str, Any]]] = []
        self._redeliveries: list[str] = []
        self._outbox_lock = threading.Lock()
        self._local = threading.local()  # nesting depth of changes on this thread

    # --- plumbing --------------------------------------------------------------------------------

    @contextmanager
    def _change(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            with self.world.lock:
                yield
        finally:
            self._local.depth = depth
        if depth == 0 and not self.emu.serving_request():
            self.flush()

    def flush(self) -> None:
        """Send the webhooks queued by changes made so far (called when the world lock is released)."""
        with self._outbox_lock:
            outgoing, self._outbox = self._outbox, []
            again, self._redeliveries = self._redeliveries, []
        for event, payload in outgoing:
            self.emu.webhooks.send(event, payload)
        for guid in again:
            self.emu.webhooks.redeliver(guid)

    def queue_redelivery(self, guid: str) -> None:
        """A redelivery the API asked for, sent once the world is unlocked like any webhook."""
        with self._outbox_lock:
            self._redeliveries.append(guid)

    def _queue(self, event: str, payload: dict[str, Any]) -> None:
        with self._outbox_lock:
            self._outbox.append((event, payload))

    def _installation(self, repo: Repo) -> Installation | None:
        return self.emu.installation_for(repo)

    def _pr_event(self, repo: Repo, pr: PullRequest, action: str, sender: str, **extra: Any) -> None:
        self._queue(
            "pull_request",
            events.pull_request(
                self.world, self.emu.urls, repo, pr, action, sender, self._installation(repo), **extra
            ),
        )

    def _pull(self, full_name: str, number: int) -> tuple[Repo, PullRequest]:
        repo = self.world.repo(full_name)
        if number not in repo.pulls:
            raise KeyError(f"{full_name} has no pull request #{number}")
        return repo, repo.pulls[number]

    # --- people and apps -------------------------------------------------------------------------

    def add_user(
        self, login: str, *, kind: str = "User", name: str | None = None, email: str | None = None
    ) -> str:
        user = self.world.user(login, kind)
        user.type, user.name, user.email = kind, name, email
        return login

    def delete_user(self, login: str) -> None:
        """The account `login` is deleted: its reviews and comments stay, shown as by `ghost` (REST) or
        with a null author (GraphQL), as GitHub shows a deleted user's content."""
        with self.world.lock:
            self.world.user(login).deleted = True

    def add_team(self, org: str, slug: str, members: list[str]) -> None:
        """Create (or reset) the team `@org/slug`; its members become members of `org`, as on GitHub."""
        with self.world.lock:
            found = self.world.teams.get((org, slug))
            if found is None:
                found = self.world.teams[(org, slug)] = Team(org, slug, self.world.new_id())
            found.members = list(members)
            self.add_members(org, *members)

    def add_members(self, org: str, *logins: str) -> None:
        """Make `logins` members of the organization `org` (they read its repositories: base permission)."""
        with self.world.lock:
            if org not in self.world.users:
                self.world.user(org, "Organization")
            for login in logins:
                self.world.user(login)
                self.world.members.setdefault(org, set()).add(login)

    def add_collaborator(self, full_name: str, login: str, role: str = "write") -> None:
        """Give `login` access to one repository (an outside collaborator, for an organization's)."""
        with self.world.lock:
            self.world.user(login)
            self.world.repo(full_name).collaborators[login] = role

    def grant_team(self, full_name: str, org: str, slug: str) -> None:
        """Give the team `@org/slug` access to a repository (needed to request it as a reviewer)."""
        with self.world.lock:
            self.world.repo(full_name).team_access.add((org, slug))

    def install_app(
        self,
        app_id: int,
        installation_id: int,
        account: str,
        *,
        slug: str = "approvalbot",
        public_key_pem: str | None = None,
        permissions: Grant = DEFAULT_APP_PERMISSIONS,
    ) -> Installation:
        """Register a GitHub App with `permissions` (by default the README's list) and install it on
        `account` (a user or org owning repositories)."""
        if any(p is not Permission.MEMBERS for p, _ in permissions.levels):
            # "Choosing permissions for a GitHub App": an App with any repository permission has
            # Metadata read; GitHub sets it back if the registration says "No access".
            permissions = Grant.of({**dict(permissions.levels), Permission.METADATA: Level.READ})
        with self.world.lock:
            self.world.apps[app_id] = App(app_id, slug, account, public_key_pem, permissions)
            self.world.user(f"{slug}[bot]", "Bot")
            installation = Installation(installation_id, app_id, account)
            self.world.installations[installation_id] = installation
            return installation

    # --- repositories and pushes -----------------------------------------------------------------

    def fork_repo(self, full_name: str, owner: str) -> str:
        """`owner` forks `full_name`; returns the fork's full name (forks.py)."""
        with self._change():
            return forks.make_fork(self.world, self.world.repo(full_name), owner).full_name

    def create_repo(
        self,
        full_name: str,
        files: Mapping[str, bytes | str],
        *,
        default_branch: str = "main",
        owner_login: str | None = None,
        private: bool = True,
    ) -> str:
        """Create a repository whose default branch holds `files`; returns the root commit sha."""
        owner, name = full_name.split("/")
        with self._change():
            self.world.user(owner_login or owner, "Organization" if owner_login is None else "User")
            repo = Repo(owner, name, self.world.new_id(), default_branch, self.world.now(), private=private)
            self.world.repos[full_name] = repo
            content = {p: v.encode() if isinstance(v, str) else v for p, v in files.items()}
            who = identity(owner_login or owner)
            commit = self.world.commit(repo, content, (), who, who, "Initial commit")
            repo.branches[default_branch] = commit.sha
            return commit.sha

    def push(
        self,
        full_name: str,
        branch: str,
        edits: FileEdits,
        *,
        author: Person,
        committer: Person | None = None,
        pusher: str | None = None,
        message: str = "Update files",
        co_authors: tuple[Person, ...] = (),
        start_from: str | None = None,
    ) -> str:
        """Commit `edits` on top of `branch` (created from `start_from` or the default branch) and push.

        Sends `push`, and `pull_request.synchronize` for every open PR whose head is `branch`.
        """
        return self.push_series(
            full_name,
            branch,
            [(edits, message)],
            author=author,
            committer=committer,
            pusher=pusher,
            co_authors=co_authors,
            start_from=start_from,
        )[-1]

    def push_series(
        self,
        full_name: str,
        branch: str,
        series: Sequence[tuple[FileEdits, str]],
        *,
        author: Person,
        committer: Person | None = None,
        pusher: str | None = None,
        co_authors: tuple[Person, ...] = (),
        start_from: str | None = None,
    ) -> list[str]:
        """Commit each (edits, message) of `series` on top of the last and push them all at once: one
        `push` (listing every commit) and one `synchronize` per open PR on `branch`. Returns the shas,
        oldest first."""
        if not series:
            raise ValueError("push_series needs at least one commit")
        with self._change():
            repo = self.world.repo(full_name)
            created = branch not in repo.branches
            before = repo.branches.get(branch) or "0" * 40
            parent = repo.branches.get(branch) or repo.branches[start_from or repo.default_branch]
            who = identity(author)
            by = pusher or who.login or who.name
            trailers = "".join(
                f"\nCo-authored-by: {i.name} <{i.email}>" for i in (identity(c) for c in co_authors)
            )
            made = []
            for edits, message in series:
                files = self.world.snapshot(repo, parent)
                for path, content in edits.items():
                    if content is None:
                        files.pop(path, None)
                    else:
                        files[path] = content.encode() if isinstance(content, str) else content
                text = message + ("\n" + trailers if trailers else "")
                commit = self.world.commit(
                    repo, files, (parent,), who, identity(committer or author), text, by
                )
                made.append(commit)
                parent = commit.sha
            repo.branches[branch] = parent
            installation = self._installation(repo)
            push_before = before if not created else "0" * 40
            self._queue(
                "push",
                events.push(self.world, self.emu.urls, repo, branch, push_before, made, by, installation),
            )
            for where, pr in forks.pulls_headed_at(self.world, repo, branch):
                pr.head_sha, pr.updated_at = parent, self.world.now()
                self._pr_event(where, pr, "synchronize", by, before=before, after=parent)
            return [c.sha for c in made]

    def force_push(self, full_name: str, branch: str, sha: str, *, pusher: str) -> None:
        """`git push --force` of an existing commit `sha` to `branch` (e.g. back to an older head).
        Sends `push` (`forced: true`) and `pull_request.synchronize` for every open PR headed at
        `branch`, as GitHub does for any push that moves a PR's head (docs.github.com, "Webhook events
        and payloads": push, pull_request `synchronize`)."""
        with self._change():
            repo = self.world.repo(full_name)
            commit = repo.commits[sha]
            before = repo.branches[branch]
            repo.branches[branch] = sha
            self._queue(
                "push",
                events.push(
                    self.world,
                    self.emu.urls,
                    repo,
                    branch,
                    before,
                    [],
                    pusher,
                    self._installation(repo),
                    forced_to=commit,
                ),
            )
            for where, pr in forks.pulls_headed_at(self.world, repo, branch):
                pr.head_sha, pr.updated_at = sha, self.world.now()
                self._pr_event(where, pr, "synchronize", pusher, before=before, after=sha)

    # --- pull requests ---------------------------------------------------------------------------

    def open_pr(
        self,
        full_name: str,
        author: str,
        branch: str,
        edits: FileEdits,
        *,
        title: str = "Update config",
        body: str = "",
        draft: bool = False,
        base: str | None = None,
        message: str | None = None,
        committer: Person | None = None,
        fork: str | None = None,
    ) -> int:
        """Push `edits` to a new branch and open a pull request from it; returns the PR number. With
        `fork` ("owner/name", made by `fork_repo`), the branch is pushed to that fork (forks.py).
        Raises DraftRefused for a draft where the repository's plan has none (drafts.py)."""
        with self._change():
            repo = self.world.repo(full_name)
            if draft and not drafts.available(self.world, repo):
                raise drafts.DraftRefused(repo)
            base_ref = base or repo.default_branch
            head = self.push(
                fork or full_name,
                branch,
                edits,
                author=author,
                committer=committer,
                pusher=author,
                message=message or title,
                start_from=base_ref,
            )
            now = self.world.now()
            number = repo.next_number
            repo.next_number += 1
            pr = PullRequest(
                number=number,
                id=self.world.new_id(),
                author=author,
                title=title,
                body=body,
                base_ref=base_ref,
                head_ref=branch,
                head_sha=head,
                base_sha=repo.branches[base_ref],
                created_at=now,
                updated_at=now,
                draft=draft,
                head_repo=fork,
            )
            repo.pulls[number] = pr
            self._pr_event(repo, pr, "opened", author)
            return number

    def ready_for_review(self, full_name: str, number: int, actor: str) -> None:
        with self._change():
            repo, pr = self._pull(full_name, number)
            if pr.draft:
                pr.draft, pr.updated_at = False, self.world.now()
                self._pr_event(repo, pr, "ready_for_review", actor)

    def convert_to_draft(self, full_name: str, number: int, actor: str) -> None:
        """Raises DraftRefused where the repository's plan has no drafts (drafts.py)."""
        with self._change():
            repo, pr = self._pull(full_name, number)
            if not pr.draft and not drafts.available(self.world, repo):
                raise drafts.DraftRefused(repo)
            if not pr.draft:
                pr.draft, pr.updated_at = True, self.world.now()
                self._pr_event(repo, pr, "converted_to_draft", actor)

    def after_draft_mutation(self, change: str, actor: str) -> None:
        """GraphQL changed a PR's draft flag; send the webhook GitHub sends for it."""
        target, _, state = change.rpartition(":")
        full_name, _, number = target.partition("#")
        with self._change():
            repo, pr = self._pull(full_name, int(number))
            self._pr_event(repo, pr, "converted_to_draft" if state == "draft" else "ready_for_review", actor)

    def edit_pr(
        self, full_name: str, number: int, actor: str, *, title: str | None = None, base: str | None = None
    ) -> None:
        with self._change():
            repo, pr = self._pull(full_name, number)
            changes: dict[str, Any] = {}
            if title is not None and title != pr.title:
                changes["title"] = {"from": pr.title}
                pr.title = title
            if base is not None and base != pr.base_ref:
                changes["base"] = {"ref": {"from": pr.base_ref}, "sha": {"from": pr.base_sha}}
                pr.base_ref, pr.base_sha = base, repo.branches[base]
            if changes:
                pr.updated_at = self.world.now()
                self._pr_event(repo, pr, "edited", actor, changes=changes)

    def close(self, full_name: str, number: int, actor: str) -> None:
        with self._change():
            repo, pr = self._pull(full_name, number)
            if pr.state == "open":
                pr.state, pr.closed_at = "closed", self.world.now()
                pr.updated_at = pr.closed_at
                self._pr_event(repo, pr, "closed", actor)

    def reopen(self, full_name: str, number: int, actor: str) -> None:
        with self._change():
            repo, pr = self._pull(full_name, number)
            if pr.state == "closed" and not pr.merged:
                pr.state, pr.closed_at, pr.updated_at = "open", None, self.world.now()
                self._pr_event(repo, pr, "reopened", actor)

    def merge(
        self,
        full_name: str,
        number: int,
        actor: str,
        title: str | None = None,
        *,
        method: MergeMethod | str = MergeMethod.MERGE,
    ) -> str:
        """Merge #number by `method` (a merge commit, a squash, or a rebase: see merges.py), as an admin
        may past any check; PR closed as merged. Returns its `merge_commit_sha` (a rebase's last commit).

        Sends `pull_request.closed`, then one `push` listing every commit written on the base branch.
        Raises MergeRefused (status and GitHub's message) when GitHub would refuse it."""
        with self._change():
            repo, pr = self._pull(full_name, number)
            if pr.state != "open" or pr.draft:
                raise ValueError(f"{full_name}#{number} cannot be merged: it is {pr.state}, draft={pr.draft}")
            before = repo.branches[pr.base_ref]
            written = write_merge(self.world, repo, pr, MergeMethod(method), actor, title)
            repo.branches[pr.base_ref] = written.last.sha
            now = self.world.now()
            pr.state, pr.merged, pr.merged_by, pr.merged_at, pr.closed_at = "closed", True, actor, now, now
            pr.merge_commit_sha, pr.updated_at = written.last.sha, now
            pr.merged_commits = tuple(c.sha for c in written.commits)
            self._pr_event(repo, pr, "closed", actor)
            self._queue(
                "push",
                events.push(
                    self.world,
                    self.emu.urls,
                    repo,
                    pr.base_ref,
                    before,
                    list(written.commits),
                    actor,
                    self._installation(repo),
                ),
            )
            return written.last.sha

    def set_merge_methods(
        self,
        full_name: str,
        *,
        merge_commit: bool | None = None,
        squash: bool | None = None,
        rebase: bool | None = None,
    ) -> None:
        """Settings → General → Pull Requests: allow or forbid each merge method (None leaves it)."""
        with self._change():
            repo = self.world.repo(full_name)
            if merge_commit is not None:
                repo.allow_merge_commit = merge_commit
            if squash is not None:
                repo.allow_squash_merge = squash
            if rebase is not None:
                repo.allow_rebase_merge = rebase

    def set_plan(self, account: str, plan: str) -> None:
        """The account's GitHub plan ("free", "pro", "team", "enterprise"): on Free and Pro its private
        repositories have no draft PRs (drafts.py)."""
        with self._change():
            self.world.user(account).plan = plan

    def set_visibility(self, full_name: str, *, private: bool) -> None:
        with self._change():
            self.world.repo(full_name).private = private

    # --- reviews and comments --------------------------------------------------------------------

    def review(
        self,
        full_name: str,
        number: int,
        user: str,
        event: str,
        body: str = "",
        commit_id: str | None = None,
    ) -> int:
        """Submit a review: `event` is APPROVE, REQUEST_CHANGES or COMMENT (as the REST API takes it)."""
        with self._change():
            repo, pr = self._pull(full_name, number)
            if user == pr.author and event != "COMMENT":
                raise ValueError("GitHub does not let the author of a pull request approve or reject it")
            item = Review(
                self.world.new_id(),
                user,
                REVIEW_STATES[event],
                body,
                commit_id or pr.head_sha,
                self.world.now(),
            )
            pr.reviews.append(item)
            if user in pr.requested_reviewers:
                pr.requested_reviewers.remove(user)
            self._review_event(repo, pr, item, "submitted", user)
            return item.id

    def edit_review(self, full_name: str, number: int, review_id: int, body: str, actor: str) -> None:
        with self._change():
            repo, pr = self._pull(full_name, number)
            item = next(r for r in pr.reviews if r.id == review_id)
            old, item.body = item.body, body
            item.editor, item.last_edited_at = actor, max(self.world.now(), item.submitted_at)
            self._review_event(repo, pr, item, "edited", actor, changes={"body": {"from": old}})

    def dismiss_review(self, full_name: str, number: int, review_id: int, actor: str) -> None:
        with self._change():
            repo, pr = self._pull(full_name, number)
            item = next(r for r in pr.reviews if r.id == review_id)
            item.state = "DISMISSED"
            self._review_event(repo, pr, item, "dismissed", actor)

    def _review_event(
        self, repo: Repo, pr: PullRequest, item: Review, action: str, sender: str, **extra: Any
    ) -> None:
        payload = events.pull_request_review(
            self.world, self.emu.urls, repo, pr, item, action, sender, self._installation(repo), **extra
        )
        self._queue("pull_request_review", payload)

    def comment(self, full_name: str, number: int, user: str, body: str, *, app_id: int | None = None) -> int:
        with self._change():
            repo, pr = self._pull(full_name, number)
            now = self.world.now()
            item = IssueComment(self.world.new_id(), number, user, body, now, now, app_id)
            repo.comments[item.id] = item
            self._comment_event(repo, pr, item, "created", user)
            return item.id

    def edit_comment(self, full_name: str, comment_id: int, body: str, actor: str) -> None:
        with self._change():
            repo = self.world.repo(full_name)
            item = repo.comments[comment_id]
            old = item.body
            item.body, item.editor = body, actor
            # GitHub moves updated_at on an edit; keep it distinct from created_at even within a second.
            item.updated_at = max(self.world.now(), item.created_at + timedelta(seconds=1))
            self._comment_event(
                repo, repo.pulls[item.number], item, "edited", actor, changes={"body": {"from": old}}
            )

    def _comment_event(
        self, repo: Repo, pr: PullRequest, item: IssueComment, action: str, sender: str, **extra: Any
    ) -> None:
        payload = events.issue_comment(
            self.world, self.emu.urls, repo, pr, item, action, sender, self._installation(repo), **extra
        )
        self._queue("issue_comment", payload)

    def settle_merge(self, full_name: str, number: int) -> None:
        """Let GitHub's background job finish: the PR's next read finds `mergeable` computed."""
        from bot.emulator.merging import test_merge

        with self.world.lock:
            repo, pr = self._pull(full_name, number)
            test_merge(self.world, repo, pr)

    def rerequest_check(self, full_name: str, check_run_id: int, actor: str) -> None:
        with self._change():
            repo = self.world.repo(full_name)
            run = repo.check_runs[check_run_id]
            payload = events.check_run(
                self.world, self.emu.urls, repo, run, "rerequested", actor, self._installation(repo)
            )
            self._queue("check_run", payload)
