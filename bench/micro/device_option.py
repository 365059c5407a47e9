"""The ``--device`` option of the micro-benchmarks, and the device it names."""

from __future__ import annotations

import argparse

import torch

import latentcore as lc


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="torch device, e.g. cpu or cuda (default: latentcore's choice: $LATENTCORE_DEVICE, else "
                             "CUDA, MPS or the CPU)")


def chosen_device(args: argparse.Namespace) -> torch.device:
    """The device ``--device`` names, else latentcore's default."""
    return torch.device(args.device) if args.device else lc.default_device()
