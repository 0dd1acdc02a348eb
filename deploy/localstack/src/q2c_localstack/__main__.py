"""`python -m q2c_localstack up|down|status|provision|demo|bench|soak|admin|processor|outbox|asyncapi`."""

import argparse
import logging
import subprocess
import sys
import warnings

from . import stack
from .config import StackConfig, StackError
from .services import OUTBOX_ADMIN_MODULE, admin_command


def main() -> int:
    parser = argparse.ArgumentParser(prog="q2c_localstack")
    parser.add_argument("command", choices=["up", "down", "status", "provision", "demo", "bench", "soak", "admin",
                                            "processor", "outbox", "asyncapi", "contract"])
    parser.add_argument("args", nargs=argparse.REMAINDER,
                        help="for soak: SECONDS; for admin: the dual-write admin command; "
                             "for outbox: SERVICE parked|retry ID|--all; for contract: check | release VERSION")
    args = parser.parse_args()
    # The broker is expected to refuse connections while it starts; say so once, not per try.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="platformdirs")
    config = StackConfig.from_env()
    try:
        if args.command == "up":
            stack.up(config)
        elif args.command == "down":
            stack.down(config)
        elif args.command == "status":
            stack.status(config)
        elif args.command == "provision":
            stack.provision_external(config)
        elif args.command == "asyncapi":
            from q2c_messaging.catalog import load_catalog

            from .asyncapi import render

            print(render(load_catalog(config.topic_catalog)), end="")
        elif args.command == "contract":
            return contract(config, args.args)
        elif args.command == "admin":
            return admin(config, args.args)
        elif args.command == "processor":
            return admin(config, args.args, "quote")
        elif args.command == "outbox":
            return outbox(config, args.args)
        elif args.command == "soak":
            from .soak import run_soak

            return run_soak(config, args.args)
        elif args.command == "demo":
            from .demo import run_demo

            run_demo(config)
        else:
            from .bench import run_bench

            run_bench(config)
    except StackError as exc:
        print(f"q2c: {exc}", file=sys.stderr)
        return 1
    return 0


def contract(config: StackConfig, argv: list[str]) -> int:
    """`contract check`: the compatibility gate; `contract release <version>`: a new snapshot."""
    from q2c_messaging.catalog import load_catalog

    from .contract import ContractError, breaking, check, release

    catalog = load_catalog(config.topic_catalog)
    if argv[:1] == ["check"]:
        changes = check(catalog)
        print("\n".join(map(str, changes)) or "no changes against the released contract")
        return 1 if breaking(changes) else 0
    if len(argv) == 2 and argv[0] == "release":
        try:
            changes = release(catalog, argv[1])
        except ContractError as exc:
            print(f"q2c: {exc}", file=sys.stderr)
            return 1
        print("\n".join(map(str, changes)) or "no changes")
        print(f"contract {argv[1]} written to contracts/schemas/{argv[1]}/")
        return 0
    print("usage: python -m q2c_localstack contract check | release <version>", file=sys.stderr)
    return 2


def admin(config: StackConfig, argv: list[str], service: str = "dual-write-adapter") -> int:
    """A service's admin CLI, run with its database and the stack's catalog."""
    command, env = admin_command(config, argv, service)
    return subprocess.run(command, env=env).returncode


def outbox(config: StackConfig, argv: list[str]) -> int:
    """The outbox admin (parked rows) of one service: `outbox SERVICE parked|retry ID|--all`."""
    names = [s.name for s in config.services]
    if not argv or argv[0] not in names:
        print(f"q2c: outbox SERVICE parked|retry ID|--all, SERVICE one of {', '.join(names)}", file=sys.stderr)
        return 2
    command, env = admin_command(config, argv[1:], argv[0], module=OUTBOX_ADMIN_MODULE)
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
