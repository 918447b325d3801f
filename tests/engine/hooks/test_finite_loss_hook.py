"""FiniteLossHook in a distributed run: a NaN on one rank stops every rank at
the same iteration (two gloo processes; no GPU needed)."""
import math
import os
import types

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _rank(rank: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    from mmvanilla.engine.hooks.finite_loss_hook import FiniteLossHook
    from mmvanilla.utils.errors import TrainingDivergedError
    runner = types.SimpleNamespace(epoch=0, iter=0, message_hub=types.SimpleNamespace(
        get_info=lambda key: None))
    hook, stopped_at = FiniteLossHook(), None
    for it in range(3):  # rank 1's loss is NaN at the second iteration only
        runner.iter = it
        loss = torch.tensor(math.nan if (rank, it) == (1, 1) else 1.0)
        try:
            hook.after_train_iter(runner, it, outputs=dict(loss=loss))
        except TrainingDivergedError as e:
            stopped_at = (it, str(e))
            break
    results[rank] = stopped_at
    dist.destroy_process_group()


def test_a_nan_on_one_rank_stops_every_rank_at_the_same_iteration():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    results = mp.Manager().dict()
    # forked: the ranks start with this process's imports (spawn re-imports mmdet)
    mp.start_processes(_rank, args=(port, results), nprocs=2, join=True, start_method='fork')
    for rank in (0, 1):
        it, message = results[rank]
        assert it == 1, results
        assert 'on rank 1 at epoch 1, iteration 2: training stopped' in message


def test_a_finite_loss_passes_and_a_nan_stops_a_single_process():
    from mmvanilla.engine.hooks.finite_loss_hook import FiniteLossHook
    from mmvanilla.utils.errors import TrainingDivergedError
    runner = types.SimpleNamespace(epoch=0, iter=4, message_hub=types.SimpleNamespace(
        get_info=lambda key: 'work/epoch_1.pth'))
    FiniteLossHook().after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(2.0)))
    with pytest.raises(TrainingDivergedError, match=r'became inf at epoch 1, iteration 5: '
                       r'training stopped \(the last checkpoint, work/epoch_1.pth'):
        FiniteLossHook().after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(math.inf)))
