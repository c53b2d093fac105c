"""``python -m flask_entra.simulator --port 8765 [--dataset FILE | --generate 50x200] [--seed N] [--faults JSON]``."""

from __future__ import annotations

import argparse
import json
import re

from flask_entra.simulator.server import serve


def _tenants_by_users(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", value)
    if match is None:
        raise argparse.ArgumentTypeError("expected TENANTSxUSERS, e.g. 50x200")
    return int(match.group(1)), int(match.group(2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flask_entra.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--dataset", help="a dataset JSON file (default: the bundled demo dataset)")
    source.add_argument(
        "--generate", type=_tenants_by_users, metavar="TENANTSxUSERS", help="generate a dataset, e.g. 50x200"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator and of the fault knobs")
    parser.add_argument(
        "--faults", type=json.loads, default=None, help="fault knobs as JSON, e.g. '{\"latency_ms\": 50}'"
    )
    args = parser.parse_args(argv)
    faults = {"seed": args.seed, **(args.faults or {})}
    serve(args.host, args.port, args.dataset, generate=args.generate, seed=args.seed, faults=faults)


if __name__ == "__main__":
    main()
