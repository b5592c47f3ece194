"""Private runtime files: var/ is 0700, the secret key and the SQLite database (with -wal, -shm) 0600.

The database holds password hashes and sessions, the key signs sessions: no other local account may
read them. SQLite gives its -wal and -shm files the mode of the database file, so creating the
database file 0600 before SQLite first opens it is enough for all three; files made by an earlier
version with the umask's mode (0644) are tightened when StreamCity starts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) with mode 0700, or tighten it to 0700 if it is ours."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_file_create(path: Path, text: str) -> bool:
    """Publish a new file that is 0600 from its first byte and complete when it appears; False if it exists.

    Processes started together (the simulator and the processors on a fresh var/) race to create the
    same file: the text goes to a private file of this process first and is linked into place, so a
    reader never sees it half written and the loser of the race keeps the winner's file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def private_file(path: Path) -> Path:
    """Tighten an existing file of ours to 0600 (one an earlier version wrote with the umask's mode)."""
    _tighten(Path(path), FILE_MODE)
    return Path(path)


def private_sqlite(path: Path, var_dir: Path) -> None:
    """Before SQLite opens `path`: its folder exists (var/ private), the file and its companions are 0600."""
    path = Path(path)
    if path.parent == Path(var_dir):
        private_dir(path.parent)
    elif not path.parent.is_dir():
        return  # a folder someone else chose: SQLite will say it is missing
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)  # an empty file is a new database
        os.close(fd)
    except FileExistsError:
        pass
    for suffix in SQLITE_SUFFIXES:
        _tighten(Path(f"{path}{suffix}"), FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_uid == os.getuid() and st.st_mode & 0o777 & ~mode:
        path.chmod(mode)
