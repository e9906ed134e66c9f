"""The ssh decky's host keys (ed25519, ecdsa P-256, RSA), derived from the persona seed."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

from decnet_emu.persona import Persona
from decnet_emu.protocols._ssh_paths import SSH_RUN

# -- host keys ------------------------------------------------------------------------------
# Miller-Rabin rounds for a random (not adversarial) candidate: FIPS 186-4 table C.2 asks for
# 5 for the 1536-bit primes of RSA-3072 (error below 2**-100). Each round is one modular
# exponentiation, which is what a derived key costs.
MR_ROUNDS = 5


def _is_probable_prime(n: int) -> bool:
    """Trial division by the first 24 primes, then MR_ROUNDS Miller-Rabin rounds."""
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
             79, 83, 89)
    if n < 2:
        return False
    for p in small:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in small[:MR_ROUNDS]:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _odd_primes_product(limit: int) -> int:
    """The product of the odd primes below `limit` (one gcd then does all trial divisions)."""
    composite = bytearray(limit)
    product = 1
    for number in range(3, limit, 2):
        if not composite[number]:
            product *= number
            marks = range(number * number, limit, 2 * number)
            composite[number * number::2 * number] = b"\x01" * len(marks)
    return product


# Candidates sharing a factor with it are skipped before any (costly) Miller-Rabin round: with
# the odd primes below 2**16, about 10 % of odd candidates are left instead of 15 % below 2000.
# It only removes composites, so the prime found (and every decky's key) does not change.
_SIEVE_PRODUCT = _odd_primes_product(1 << 16)


def _derived_prime(persona: Persona, label: str, bits: int) -> int:
    """A deterministic prime of `bits` bits (top two bits set, p-1 coprime to 65537)."""
    for counter in range(100000):
        n = int.from_bytes(persona.derive(f"{label}/{counter}", bits // 8), "big")
        n |= (3 << (bits - 2)) | 1
        if math.gcd(n, _SIEVE_PRODUCT) != 1:
            continue
        if (n - 1) % 65537 and _is_probable_prime(n):
            return n
    raise RuntimeError("no prime found")


def host_keys(persona: Persona, rsa_bits: int = 3072) -> dict[str, bytes]:
    """OpenSSH private keys by type (`ed25519`, `ecdsa`, `rsa`), derived from the persona."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    fmt = (serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
           serialization.NoEncryption())
    keys: dict[str, Any] = {
        "ed25519": ed25519.Ed25519PrivateKey.from_private_bytes(
            persona.derive("ssh-host-key/ed25519", 32)),
    }
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256
    scalar = int.from_bytes(persona.derive("ssh-host-key/ecdsa", 40), "big") % (order - 1) + 1
    keys["ecdsa"] = ec.derive_private_key(scalar, ec.SECP256R1())
    if rsa_bits:
        p = _derived_prime(persona, "ssh-host-key/rsa/p", rsa_bits // 2)
        q = _derived_prime(persona, "ssh-host-key/rsa/q", rsa_bits // 2)
        p, q = max(p, q), min(p, q)
        e = 65537
        d = pow(e, -1, (p - 1) * (q - 1))
        public = rsa.RSAPublicNumbers(e, p * q)
        keys["rsa"] = rsa.RSAPrivateNumbers(
            p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
            public).private_key()
    return {name: key.private_bytes(*fmt) for name, key in keys.items()}




def write_host_keys(persona: Persona, rsa_bits: int, folder: Path = SSH_RUN) -> list[Path]:
    """Write the persona's host keys (0600) into `folder`; their paths, RSA first."""
    paths = []
    for name, pem in host_keys(persona, rsa_bits).items():
        path = folder / f"ssh_host_{name}_key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        paths.append(path)
    return sorted(paths, key=lambda p: ("rsa" not in p.name, "ecdsa" not in p.name))


def write_host_keys_apart(persona: Persona, rsa_bits: int, folder: Path = SSH_RUN) -> list[Path]:
    """write_host_keys in a forked child, so that `cryptography` (and the RSA derivation's
    garbage) never weighs on the supervisor that stays resident for the container's life
    (measured: about 4 MiB less anonymous memory). Before any thread or event loop exists."""
    names = ["ed25519", "ecdsa"] + (["rsa"] if rsa_bits else [])
    paths = sorted((folder / f"ssh_host_{name}_key" for name in names),
                   key=lambda p: ("rsa" not in p.name, "ecdsa" not in p.name))
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: derive, write, leave without running the parent's cleanups
        code = 1
        try:
            write_host_keys(persona, rsa_bits, folder)
            code = 0
        except BaseException as exc:  # reported, and the parent fails
            print(f"decnet_emu: ssh: host keys: {type(exc).__name__}: {exc}", file=sys.stderr,
                  flush=True)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not all(p.exists() for p in paths):
        raise OSError("the host keys could not be written")
    return paths
