"""Let ``--launcher pytorch`` run on the CPU when asked for (gloo, no device ids)."""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmvanilla.utils.console import announce
from mmvanilla.utils.errors import ConfigError


def prepare_cpu_distributed(cfg: Config) -> None:
    """Initialize gloo and CPU DDP when launched by torchrun without CUDA.

    mmengine's pytorch launcher calls ``torch.cuda.set_device`` and gives DDP
    ``device_ids=[local_rank]``, both of which fail without a GPU. Initializing
    the process group here makes mmengine skip its own initialization.

    Only where the CPU was asked for (``CUDA_VISIBLE_DEVICES`` set to '' or -1):
    a job launched for GPUs that cannot see one stops with one line instead
    of training on the CPU, slowly, with one INFO line to say so.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    if os.environ.get('CUDA_VISIBLE_DEVICES') not in ('', '-1'):
        raise ConfigError(
            f'--launcher pytorch: torch {torch.__version__} sees no GPU '
            f'({"a CPU build" if torch.version.cuda is None else "CUDA " + torch.version.cuda}'
            f'): check the GPUs (nvidia-smi) and that torch fits the driver (TORCH_SPEC in '
            f'tools/setup_env.sh); to run on the CPU on purpose, set CUDA_VISIBLE_DEVICES= '
            f'(empty)')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                   find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    announce(MMLogger.get_current_instance(), f'no CUDA: distributed on CPU with gloo, '
             f'rank {dist.get_rank()} of {dist.get_world_size()}')
