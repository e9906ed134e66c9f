"""`python -m decnet_emu [--service S] [--ports "22/tcp"] [--host H]`: run one emulator.

Without options everything comes from the environment (what the deployer sets); the options
help to run a protocol module on loopback while developing or testing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from dataclasses import replace

from decnet_emu.config import from_environment, parse_ports
from decnet_emu.server import Emulator, load_protocol


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config = from_environment(os.environ)
    if argv:  # argparse (and re) only when options are given: a container passes none
        import argparse

        parser = argparse.ArgumentParser(prog="decnet_emu")
        parser.add_argument("--service")
        parser.add_argument("--ports", help='e.g. "2222/tcp 5353/udp"')
        parser.add_argument("--host")
        args = parser.parse_args(argv)
        if args.service:
            config = replace(config, service=args.service)
        if args.ports:
            config = replace(config, ports=parse_ports(args.ports))
        if args.host:
            config = replace(config, host=args.host)
    if not config.service or not config.ports:
        print("decnet_emu: no service or no ports (DECNET_SERVICE, DECNET_PORTS)", file=sys.stderr)
        return 2
    protocol = load_protocol(config.service)
    if hasattr(protocol, "main"):  # a supervisor of a real server (ssh): it runs everything
        return int(protocol.main(config))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Emulator(config).serve_forever())
    return 0


if __name__ == "__main__":
    sys.exit(main())
