"""Keys kept in the data directory, so that URLs handed out survive a restart, as in Azure.

`<data dir>/keys.json` holds the keys devhost generated (keys given by settings are not written).
It is created owner-only (0600) and atomically; a file that others can read or write, or that
does not parse, stops devhost with a message rather than being trusted or silently replaced.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from devhost.auth import Keys, check_key

logger = logging.getLogger(__name__)

KEYS_FILE = "keys.json"
_MAX_SIZE = 64 * 1024


class KeyStoreError(ValueError):
    """The keys file cannot be trusted or read; the message says which file and why."""


StoredKey = Annotated[str, AfterValidator(lambda value: check_key(value, "a stored key"))]


class StoredKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    master: StoredKey | None = None
    function: StoredKey | None = None
    durable_system: StoredKey | None = None

    def as_dict(self) -> dict[str, str]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


def _read(path: Path) -> dict[str, str] | None:
    """The stored keys, or None when there is no file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise KeyStoreError(f"cannot open {path}: {error.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyStoreError(f"{path} is not a regular file")
        if info.st_uid != os.getuid():
            raise KeyStoreError(f"{path} belongs to another user; remove it or take ownership")
        if info.st_mode & 0o077:
            raise KeyStoreError(
                f"{path} is open to group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"run `chmod 600 {path}` if nobody else could have read it, otherwise delete it "
                "so that new keys are made"
            )
        raw = file.read(_MAX_SIZE + 1)
    if len(raw) > _MAX_SIZE:
        raise KeyStoreError(f"{path} is too large to be a keys file")
    try:
        return StoredKeys.model_validate_json(raw).as_dict()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in error.errors()
        )
        raise KeyStoreError(f"{path} is malformed ({problems}); fix or delete it") from None


def _write(path: Path, keys: Mapping[str, str], *, replace: bool) -> bool:
    """Write `keys` to `path` atomically, owner-only; False if `replace` is off and it exists."""
    # mkstemp creates the file with mode 0600 and O_EXCL, so the keys are never readable by others.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".keys-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(dict(keys), file, indent=2, sort_keys=True)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)  # fails if another devhost created it meanwhile
            except FileExistsError:
                return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True


def load_keys(data_dir: Path, environ: Mapping[str, str]) -> Keys:
    """Keys from settings, else from `<data_dir>/keys.json`, else new ones written there.

    Raises KeyStoreError for an untrustworthy or malformed file, ValueError for a bad setting.
    """
    path = data_dir / KEYS_FILE
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise KeyStoreError(f"cannot create the data directory {data_dir}: {error}") from None
    stored = _read(path)
    keys = Keys.resolve(environ, stored)
    wanted = {**(stored or {}), **keys.as_stored()}
    if wanted == (stored or {}):
        return keys
    if not _write(path, wanted, replace=stored is not None):
        # Another devhost on the same data directory wrote its keys first: use those.
        keys = Keys.resolve(environ, _read(path))
    else:
        logger.info("keys stored in %s", path)
    return keys
