"""The accounts of `accept` (user + password): real login accounts in the decky's /etc files."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decnet_emu.protocols._ssh_paths import ETC_SEED

USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
FIRST_UID = 1000
USERS_GID = 100


# -- accounts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Account:
    user: str
    password: str


def accept_list(value: Any) -> list[Account]:
    """`accept` items: {user, password} objects (or "user:password" strings); bad ones dropped."""
    out = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            user, password = item.get("user"), item.get("password")
        elif isinstance(item, str) and ":" in item:
            user, password = item.split(":", 1)
        else:
            user = password = None
        if isinstance(user, str) and isinstance(password, str) and USER_RE.match(user) \
                and password and "\n" not in password:
            out.append(Account(user, password))
        else:
            print(f"decnet_emu: ssh: accept item ignored: {item!r}", file=sys.stderr)
    return out


def _hash_password(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # Debian bookworm's Python 3.11 still has it (libcrypt, yescrypt/sha512)

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


def _etc_path(name: str, etc: Path) -> Path:
    """The writable file behind /etc/<name>: a link into /run is seeded from the image copy."""
    path = etc / name
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            seed = ETC_SEED / name
            if seed.exists():
                shutil.copy2(seed, target)
            else:
                target.touch()
            if name in ("shadow", "gshadow"):
                os.chmod(target, 0o640)
        return target
    return path


def _write_lines(path: Path, lines: list[str]) -> None:
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    temp = path.with_name(f".{path.name}.decnet")
    temp.write_text("".join(line + "\n" for line in lines))
    os.chmod(temp, mode)
    os.replace(temp, path)


def _home_base() -> Path:
    for base in (Path("/home"), Path("/tmp/home")):
        with contextlib.suppress(OSError):
            base.mkdir(parents=True, exist_ok=True)
            probe = base / ".decnet-probe"
            probe.mkdir()
            probe.rmdir()
            return base
    return Path("/tmp")


def setup_accounts(accounts: list[Account], etc: Path = Path("/etc")) -> list[str]:
    """Create (or set the password of) each account; returns the users that can log in.

    Files are edited directly (useradd/chpasswd cannot write under a read-only /etc, and the
    image links the account files into /run): passwd, shadow, and a home from /etc/skel.
    The files under /run are seeded from the image's copies in any case: sshd needs its
    privilege separation user even when no account is added.
    """
    try:
        passwd_path, shadow_path = _etc_path("passwd", etc), _etc_path("shadow", etc)
        _etc_path("group", etc)
        _etc_path("gshadow", etc)
        if not accounts:
            return []
        passwd = passwd_path.read_text().splitlines()
        shadow = shadow_path.read_text().splitlines()
    except OSError as exc:
        print(f"decnet_emu: ssh: cannot read the account files: {exc}", file=sys.stderr)
        return []
    names = {line.split(":", 1)[0]: i for i, line in enumerate(passwd) if line}
    uids = {int(p[2]) for p in (line.split(":") for line in passwd) if len(p) > 2
            and p[2].isdigit()}
    today = int(time.time() // 86400)
    done = []
    for account in accounts:
        if account.user not in names:
            uid = next(u for u in range(FIRST_UID, 60000) if u not in uids)
            uids.add(uid)
            home = _home_base() / account.user
            passwd.append(f"{account.user}:x:{uid}:{USERS_GID}::{home}:/bin/bash")
            names[account.user] = len(passwd) - 1
            with contextlib.suppress(OSError):
                if not home.exists():
                    shutil.copytree("/etc/skel", home) if Path("/etc/skel").is_dir() \
                        else home.mkdir(parents=True)
                for root, dirs, files in os.walk(home):
                    for item in [root, *(os.path.join(root, n) for n in dirs + files)]:
                        os.lchown(item, uid, USERS_GID)
                os.chmod(home, 0o750)
        entry = f"{account.user}:{_hash_password(account.password)}:{today}:0:99999:7:::"
        shadow = [line for line in shadow if line.split(":", 1)[0] != account.user] + [entry]
        done.append(account.user)
    try:
        _write_lines(passwd_path, passwd)
        _write_lines(shadow_path, shadow)
    except OSError as exc:
        print(f"decnet_emu: ssh: cannot write the account files ({exc}); accept is ignored "
              "(a read-only /etc needs images/emulators/ssh/image-setup.sh)", file=sys.stderr)
        return []
    return done
