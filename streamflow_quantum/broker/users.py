"""The users of a standalone broker (`sfq serve --users FILE`), each with a token of their own.

A users file is YAML: ``users: [{name, token_sha256, priority, max_queued, device_seconds}]``
(``broker/schemas/users.json``). It holds only the SHA-256 digest of each token. A token
is 32 random bytes (``secrets.token_urlsafe(32)``): 256 bits cannot be guessed or found
in a dictionary, so a fast unsalted hash is as strong as a slow password hash here, and
checking a request costs one SHA-256 instead of a deliberately slow key derivation that
any client could make the broker run. A leaked file lets nobody in.

A running broker reloads the file when it changes (checked at most once a second, when
a request comes), so `sfq users add` and `sfq users remove` need no restart. A file that
no longer loads is logged and the users loaded last stay in force until it is fixed:
``sfq users`` writes the file atomically, so only a hand edit can leave it broken.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import hmac
import logging
import math
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from streamflow_quantum.core.config import load_schema
from streamflow_quantum.core.model import ANONYMOUS, User

logger = logging.getLogger(__name__)

ENV_USERS = "SFQ_USERS"
DEFAULT_FILE = "users.yaml"
#: A users file larger than this is refused (about 5,000 users).
MAX_FILE_BYTES = 2**20
#: Seconds between two looks at a running broker's users file.
CHECK_EVERY_S = 1.0

_NUMBERS = ("priority", "device_seconds")


class UsersError(ValueError):
    """A users file that cannot be read, or a change to it that cannot be made; one line."""


@dataclass(frozen=True)
class Account:
    """A user and the SHA-256 digest of their token."""

    user: User
    digest: bytes


def token_digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def default_path() -> Path:
    return Path(os.environ.get(ENV_USERS) or DEFAULT_FILE)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(path: Path, entries: object, index: int) -> str:
    entry = entries[index] if isinstance(entries, list) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    label = f"user {name!r} (entry {index + 1})" if isinstance(name, str) else f"entry {index + 1}"
    return f"{path}: {label}"


def _schema_error(path: Path, document: object, error: jsonschema.ValidationError) -> UsersError:
    where = list(error.absolute_path)
    entries = document.get("users") if isinstance(document, dict) else None
    prefix = _where(path, entries, where[1]) if len(where) > 1 else str(path)
    field = f"{where[2]}: " if len(where) > 2 else ""
    if error.validator == "pattern":
        message = f"must be {error.schema['description']}, not {_short(error.instance)}"
    else:
        message = error.message.splitlines()[0]
    if len(where) == 1 and error.validator == "type":  # users: is not a list
        message = "users must be a list of entries"
    return UsersError(f"{prefix}: {field}{message}")


def parse(document: object, path: Path) -> list[Account]:
    """The accounts of a users file's YAML document, or the UsersError that says why not."""
    if not isinstance(document, dict):
        raise UsersError(f"{path}: a users file is a mapping: users: [{{name, token_sha256}}, ...]")
    error = jsonschema.exceptions.best_match(_validator().iter_errors(document))
    if error is not None:
        raise _schema_error(path, document, error)
    accounts: list[Account] = []
    names: set[str] = set()
    for index, entry in enumerate(document["users"]):
        where = _where(path, document["users"], index)
        for key in _NUMBERS:
            if not math.isfinite(entry.get(key, 0)):
                raise UsersError(f"{where}: {key} must be a finite number")
        name = entry["name"]
        if name == ANONYMOUS.name:
            raise UsersError(f"{where}: the name {name!r} is kept for the shared secret's holders")
        if name in names:
            raise UsersError(f"{where}: another entry has this name; names must be unique")
        names.add(name)
        user = User(
            name,
            priority=float(entry.get("priority", 1.0)),
            max_queued=int(entry.get("max_queued", 0)),
            device_s=float(entry.get("device_seconds", 0.0)),
        )
        accounts.append(Account(user, bytes.fromhex(entry["token_sha256"])))
    return accounts


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema("streamflow_quantum.broker", "users.json"))


def read_document(path: Path) -> Any:
    """The users file's YAML document (checked by :func:`parse`, not here)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise UsersError(f"{path}: cannot read the users file: {e.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise UsersError(f"{path}: the users file has over {MAX_FILE_BYTES} bytes")
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise UsersError(f"{path}: not YAML{at}: {problem}") from None


def load(path: Path) -> list[Account]:
    return parse(read_document(path), path)


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file does: replaced (inode), rewritten (time, size), or gone."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


class UsersFile:
    """The users of a running broker, reloaded from their file when it changes."""

    def __init__(
        self,
        path: Path,
        check_every_s: float = CHECK_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._signature = _signature(path)  # before reading: a change meanwhile is seen
        self._accounts = load(path)
        self._every, self._clock = check_every_s, clock
        self._checked = clock()

    @property
    def users(self) -> list[User]:
        return [account.user for account in self._accounts]

    def authenticate(self, token: bytes) -> User | None:
        """The user whose token this is, or None. Each digest is compared in constant time,
        and all of them always, so timing tells neither a digest nor which user matched."""
        self._refresh()
        digest = token_digest(token)
        found = None
        for account in self._accounts:
            if hmac.compare_digest(digest, account.digest):
                found = account.user
        return found

    def _refresh(self) -> None:
        """Reload the file if it changed; a stat at most every ``check_every_s`` (a small file,
        read on the event loop: cheaper than handing it to a thread)."""
        now = self._clock()
        if now - self._checked < self._every:
            return
        self._checked = now
        signature = _signature(self.path)
        if signature == self._signature:
            return
        self._signature = signature
        try:
            self._accounts = load(self.path)
        except UsersError as e:
            logger.error("%s; the users loaded last stay in force", e)
            return
        logger.info("users file %s reloaded: %d users", self.path, len(self._accounts))


# -- changing the file (`sfq users`) ------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the file's directory locked: two `sfq users` at once would lose a change
    (the file itself is replaced, so it cannot carry the lock)."""
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write(path: Path, document: dict[str, Any]) -> None:
    """Replace the file at once, readable by its owner only: a broker never reads half of it."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump(document, f, sort_keys=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _current(path: Path) -> dict[str, Any]:
    """The file's document, checked; an empty one where there is no file yet."""
    if not path.exists():
        return {"users": []}
    document = read_document(path)
    parse(document, path)
    assert isinstance(document, dict)  # parse checked it
    return document


def add_user(
    path: Path, name: str, priority: float = 1.0, max_queued: int = 0, device_seconds: float = 0.0
) -> str:
    """Add a user with a fresh token; returns the token, which only the caller ever sees."""
    token = secrets.token_urlsafe(32)
    entry = {
        "name": name,
        "token_sha256": token_digest(token.encode("ascii")).hex(),
        "priority": priority,
        "max_queued": max_queued,
        "device_seconds": device_seconds,
    }
    with _locked(path.absolute()):
        document = _current(path)
        if any(e["name"] == name for e in document["users"]):
            raise UsersError(f"{path}: there is a user named {name!r} already")
        document["users"].append(entry)
        parse(document, path)  # the new entry's values
        _write(path, document)
    return token


def remove_user(path: Path, name: str) -> None:
    with _locked(path.absolute()):
        document = _current(path)
        kept = [e for e in document["users"] if e["name"] != name]
        if len(kept) == len(document["users"]):
            raise UsersError(f"{path}: there is no user named {name!r}")
        _write(path, {**document, "users": kept})
