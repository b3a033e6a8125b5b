"""``vworld <command>``: thin wiring from the command line to the library's functions.

Every command takes ``-c recipe.yaml`` and dotted ``key.sub=value`` overrides; ``--help``
lists every config key with its default.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

# command: (module, config class, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "pretrain": (
        "vworld.train.pretrain",
        "PretrainConfig",
        "pretrain",
        "pretrain a video encoder with V-JEPA on a folder of videos",
    ),
    "collect": (
        "vworld.data.collect",
        "CollectConfig",
        "collect",
        "collect robot logs in a MuJoCo env into a LeRobot v3.0 dataset",
    ),
    "merge": (
        "vworld.data.record",
        "MergeConfig",
        "merge",
        "join LeRobot datasets of one env into one (e.g. planner rollouts and training data)",
    ),
    "train-ac": (
        "vworld.train.train_ac",
        "TrainACConfig",
        "train_ac",
        "train an action-conditioned predictor on robot logs over a frozen encoder",
    ),
    "plan": (
        "vworld.eval.harness",
        "PlanConfig",
        "run_planning",
        "plan toward goal images with a world model and report success",
    ),
    "demo": (
        "vworld.demo",
        "DemoConfig",
        "demo",
        "the whole pipeline on one machine: collect, pretrain, train-ac, plan",
    ),
}


def _load(command: str) -> tuple[type, object] | None:
    module, schema, fn, _ = COMMANDS[command]
    if importlib.util.find_spec(module) is None:
        return None
    mod = importlib.import_module(module)
    return getattr(mod, schema), getattr(mod, fn)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vworld", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="command")
    wanted = sys.argv[1] if len(sys.argv) > 1 else None
    for name, (_, _, _, helptext) in COMMANDS.items():
        epilog = None
        if name == wanted and any(a in ("-h", "--help") for a in sys.argv[2:]):
            loaded = _load(name)
            if loaded is not None:
                from vworld.config import describe

                epilog = describe(loaded[0])
        p = sub.add_parser(
            name,
            help=helptext,
            description=helptext,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("-c", "--config", help="YAML recipe (a path, or one under configs/)")
        p.add_argument("overrides", nargs="*", help="config overrides, key.sub=value")
        if name == "demo":
            p.add_argument("--quick", action="store_true", help="every stage at toy size")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    logging.basicConfig(
        level=os.environ.get("VWORLD_LOG", "INFO"), format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("OpenGL", "accelerate", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    loaded = _load(args.command)
    if loaded is None:
        print(f"vworld {args.command}: not available in this build", file=sys.stderr)
        return 2
    schema, fn = loaded
    from vworld.config import ConfigError, load_config

    overrides = list(args.overrides)
    if getattr(args, "quick", False):
        overrides = ["quick=true", *overrides]
    try:
        cfg = load_config(schema, args.config, overrides)
    except (ConfigError, ValueError) as e:
        print(f"vworld {args.command}: {e}", file=sys.stderr)
        return 2
    fn(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
