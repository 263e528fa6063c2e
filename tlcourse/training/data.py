"""Training batches in an order that resumes exactly and splits over processes.

:class:`ResumableSampler` is torch's ``DistributedSampler`` (epoch ``e`` is ``randperm(n)`` seeded with
``seed + e``; process ``r`` of ``w`` takes every ``w``-th index from ``r``) plus ``start``: the number of this
process's indices of the current epoch to skip. The order is a function of ``(seed, epoch)`` alone, so a
checkpoint only needs the epoch and how many batches of it were taken, and a resumed run sees the very batches
the uninterrupted run would have seen, without loading the skipped ones.

Example:
    >>> loader = make_loader(list(range(10)), batch_size=4, seed=0)
    >>> first = [batch.tolist() for batch in loader]             # drop_last: 2 batches of 4, 2 examples unused
    >>> loader.sampler.start = 4                                  # skip this epoch's first batch
    >>> [batch.tolist() for batch in loader] == first[1:]
    True
"""

from __future__ import annotations

from typing import Callable, Iterator, Sized

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from tlcourse.training.distributed import dist_info


class ResumableSampler(DistributedSampler):
    """A ``DistributedSampler`` that skips the first ``start`` of this process's indices of the epoch.

    ``set_epoch(e)`` picks the epoch's order, as for ``DistributedSampler``; the trainer sets ``start`` when it
    resumes in the middle of an epoch and puts it back to 0 for the next one.
    """

    def __init__(self, dataset: Sized, *, num_replicas: int, rank: int, shuffle: bool, seed: int):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.start:])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


def make_loader(dataset: Dataset | Sized, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                collate_fn: Callable | None = None, num_workers: int = 0) -> DataLoader:
    """A training ``DataLoader`` over this process's shard of ``dataset``, reshuffled each epoch, resumable.

    Batches have exactly ``batch_size`` examples (the incomplete last batch is dropped), so every micro-batch of
    a step weighs the same. The loader gets its own ``torch.Generator``, so starting an epoch does not draw from
    torch's global generator (which dropout uses).

    Shapes:
        each batch is ``collate_fn`` of ``batch_size`` examples (default: tensors stacked to (batch_size, ...)).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError("dataset: expected a map-style dataset (__len__ and __getitem__), "
                        f"got {type(dataset).__name__}")
    info = dist_info()
    sampler = ResumableSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle, seed=seed)
    if len(sampler) < batch_size:
        raise ValueError(f"batch_size: expected at most {len(sampler)} (the examples each of {info.world_size} "
                         f"process(es) gets per epoch), got {batch_size}")
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn, drop_last=True,
                      num_workers=num_workers, generator=torch.Generator().manual_seed(seed))
