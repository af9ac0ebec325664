"""Checkpoints: reading them safely and loading them strictly.

Reading never executes pickled code: ``.safetensors`` files go through safetensors and everything
else through ``torch.load(weights_only=True)``. Loading is strict: every key and every shape must
match, and a mismatch is an error that names the file, the model and the keys that differ.
"""
from __future__ import annotations

from pathlib import Path

import torch

MAX_KEYS_SHOWN = 8


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unreadable, corrupt, or of another architecture."""


def read_checkpoint(path: Path) -> dict:
    """Read a checkpoint file into a dict without executing pickled code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint {path} does not exist')
    try:
        if path.suffix == '.safetensors':
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch and safetensors raise many types for corrupt files
        raise CheckpointError(f'cannot read checkpoint {path}: {error}. The file is corrupt, '
                              'truncated, or not a PyTorch/safetensors checkpoint') from error


def _listing(names: list[str]) -> str:
    shown = ', '.join(names[:MAX_KEYS_SHOWN])
    more = len(names) - MAX_KEYS_SHOWN
    return shown + (f' (and {more} more)' if more > 0 else '')


def load_state_dict_strict(module: torch.nn.Module, state_dict: dict, *, model: str,
                           source: str | Path) -> None:
    """Copy ``state_dict`` into ``module``, requiring exactly the same keys and shapes.

    Raises :class:`CheckpointError` naming the missing, unexpected and mis-shaped keys.
    """
    expected = module.state_dict()
    tensors = {k: v for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    misshaped = sorted(f'{k} {tuple(tensors[k].shape)} != {tuple(expected[k].shape)}'
                       for k in set(expected) & set(tensors)
                       if tensors[k].shape != expected[k].shape)
    if missing or unexpected or misshaped:
        problems = []
        if missing:
            problems.append(f'{len(missing)} missing keys: {_listing(missing)}')
        if unexpected:
            problems.append(f'{len(unexpected)} unexpected keys: {_listing(unexpected)}')
        if misshaped:
            problems.append(f'{len(misshaped)} keys of another shape (file != model): '
                            f'{_listing(misshaped)}')
        raise CheckpointError(f'checkpoint {source} does not fit model {model!r}: '
                              + '; '.join(problems)
                              + '. Is it a checkpoint of another architecture or variant?')
    module.load_state_dict(tensors, strict=True)
