"""Let ``--launcher pytorch`` run on CPU-only machines (gloo, no device ids)."""
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmvanilla.utils.console import announce


def prepare_cpu_distributed(cfg: Config) -> None:
    """Initialize gloo and CPU DDP when launched by torchrun without CUDA.

    mmengine's pytorch launcher calls ``torch.cuda.set_device`` and gives DDP
    ``device_ids=[local_rank]``, both of which fail without a GPU. Initializing
    the process group here makes mmengine skip its own initialization.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                   find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    announce(MMLogger.get_current_instance(), f'no CUDA: distributed on CPU with gloo, '
             f'rank {dist.get_rank()} of {dist.get_world_size()}')
