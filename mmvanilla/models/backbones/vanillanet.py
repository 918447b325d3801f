"""VanillaNet (arXiv 2305.12972) as an MMDetection / MMPretrain backbone."""
import logging
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.utils.checkpoint
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmvanilla.models.backbones.onednn_plan import OneDNNPlan, onednn_enabled
from mmvanilla.models.backbones.pretrained import load_pretrained
from mmvanilla.models.backbones.vanillanet_arch import (
    check_out_indices,
    default_out_indices,
    resolve_arch,
)
from mmvanilla.models.layers import SeriesActivation, VanillaBlock
from mmvanilla.models.layers.vanilla_block import (
    check_fusable,
    conv_bn,
    deep_training_nonlinearity,
    merged_conv,
)
from mmvanilla.utils.errors import ConfigError

#: Largest total size of the series activations' depthwise kernels (fp32):
#: VN-13-1.5x at act_num 4 needs 0.0016 GB; this stops a typo before it
#: asks for terabytes.
MAX_ACTIVATION_KERNEL_GB = 4.0


@MMDET_MODELS.register_module()
class VanillaNet(BaseModule):
    """VanillaNet backbone: a plain CNN with one layer per stage.

    ``out_indices`` index the list of blocks (0-based), the convention of the
    official detection code: VN-11 RetinaNet uses ``(1, 6, 8)`` (strides 8,
    16, 32), Mask R-CNN ``(0, 1, 6, 8)``. The channels of the emitted maps are
    in :attr:`out_channels`, their strides in :attr:`out_strides`.

    Args:
        arch: A name of :data:`ARCH_SETTINGS` or ``dict(dims, strides)``.
        in_channels: Input image channels.
        act_num: Order n of the series activation (kernel 2n+1); the paper's
            detectors use 4, the ImageNet models 3.
        out_indices: Blocks whose outputs are returned; default the last block
            of each stride.
        frozen_stages: -1 freezes nothing, 0 the stem, k the stem and the first
            k blocks.
        norm_eval: Keep BNs in eval mode while training.
        norm_cfg: Norm config, e.g. ``dict(type='SyncBN', eps=1e-6)``.
        act_learn: Slope lambda of the deep-training leaky ReLU between the
            two convs of each block: 1 (linear, fusable) for fine-tuning; the
            :class:`DeepTrainingHook` anneals it from 0 to 1.
        deploy: Build the fused (reparameterized) form.
        with_cp: Gradient checkpointing, as mmdet's backbones have it: each
            block's activations are recomputed in the backward pass instead of
            kept, for less training memory at the cost of a second forward of
            each block (train-mode BN statistics are then updated twice per
            step, as with mmdet's ``with_cp``; ``norm_eval=True`` avoids it).
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)`` for an
            official ImageNet checkpoint (train or deploy form, weights under
            ``model``, ``model_ema`` or ``state_dict``; optional ``key`` picks
            one, optional ``prefix`` selects e.g. ``'backbone.'``).

    The ``vanillanet_13_x1_5_ada_pool`` arch pools adaptively to 38/19/10 at
    224 input in classification. Fixed output sizes do not suit detection, so
    here its pools are ``MaxPool2d(2, ceil_mode=True)``: the same map sizes as
    the classifier at 224, scaling with the input. Its stem has stride 3, so
    its output strides are 3 * 2^k (see :attr:`out_strides`).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'vanillanet_11',
                 in_channels: int = 3,
                 act_num: int = 3,
                 out_indices: Optional[Sequence[int]] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN', eps=1e-6),
                 act_learn: float = 1.0,
                 deploy: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg or [
            dict(type='TruncNormal', layer='Conv2d', std=0.02, bias=0.0)])
        settings = resolve_arch(arch)
        self.arch = arch
        dims, strides = settings['dims'], settings['strides']
        self.num_blocks = len(strides)
        if norm_cfg.get('type') not in ('BN', 'BN2d', 'SyncBN', 'mmcv.SyncBN'):
            raise ConfigError(
                f'VanillaNet needs a BatchNorm norm_cfg (type BN or SyncBN), got '
                f'{norm_cfg!r}: only BatchNorm folds into the convs when fusing')
        if not isinstance(act_num, int) or isinstance(act_num, bool) or act_num < 0:
            raise ConfigError(f'act_num must be an int >= 0, got {act_num!r}')
        # Checked before anything is allocated: each activation holds a
        # (2 act_num + 1)^2 depthwise kernel per channel.
        kernel_gb = sum(dims) * (2 * act_num + 1) ** 2 * 4 / 1e9
        if kernel_gb > MAX_ACTIVATION_KERNEL_GB:
            raise ConfigError(
                f'act_num={act_num} makes {2 * act_num + 1}x{2 * act_num + 1} activation '
                f'kernels, {kernel_gb:.3g} GB of weights: use a small order (the paper '
                f'uses 3 or 4)')
        self.act_num = act_num
        self.out_indices = check_out_indices(
            default_out_indices(strides) if out_indices is None else out_indices,
            self.num_blocks)
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= self.num_blocks:
            raise ConfigError(
                f'frozen_stages={frozen_stages!r} is out of range: use -1 (none), '
                f'0 (stem) up to {self.num_blocks} (stem and all blocks)')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.deploy = deploy
        self.with_cp = with_cp

        ada_pool = settings['ada_pool']
        # Stem: 4x4/4 conv, BN, leaky ReLU(lambda), 1x1 conv, BN, activation;
        # deploy form: one 4x4/4 conv and the fused activation. Its modules sit
        # on the backbone so that keys are the official `stem1.*`, `stem2.*`
        # (train) and `stem.*` (deploy).
        stem_stride, stem_padding = (3, 1) if ada_pool else (4, 0)
        if deploy:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, dims[0], 4, stem_stride, stem_padding),
                SeriesActivation(dims[0], act_num, deploy=True))
        else:
            self.stem1 = conv_bn(in_channels, dims[0], 4, stem_stride, norm_cfg,
                                 stem_padding)
            self.stem2 = nn.Sequential(
                *conv_bn(dims[0], dims[0], 1, 1, norm_cfg),
                SeriesActivation(dims[0], act_num, norm_cfg))
        self.stages = nn.ModuleList(
            VanillaBlock(dims[i], dims[i + 1], strides[i], act_num, norm_cfg,
                         deploy, ceil_mode=ada_pool)
            for i in range(self.num_blocks))
        block_strides, s = [], stem_stride
        for stride in strides:
            s *= stride
            block_strides.append(s)
        self.out_channels = [dims[i + 1] for i in self.out_indices]
        self.out_strides = [block_strides[i] for i in self.out_indices]
        self.total_stride = block_strides[-1]
        # lambda travels with the weights (key `deep_training_lambda`): a
        # checkpoint saved mid-annealing is evaluated, and refused for fusion,
        # as the network it is.
        self.register_buffer('deep_training_lambda', torch.tensor(1.0))
        self.act_learn = act_learn
        self._freeze_stages()

    @property
    def act_learn(self) -> float:
        """Slope lambda of the deep-training non-linearity (1: linear)."""
        return self._act_learn

    @act_learn.setter
    def act_learn(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f'act_learn must be a number in [0, 1], got {value!r}')
        self._act_learn = float(value)
        self.deep_training_lambda.fill_(float(value))
        for block in self.stages:
            block.act_learn = float(value)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # torch's and mmengine's loaders both come through here: after the
        # lambda buffer is loaded, hand its value to the blocks.
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.act_learn = float(self.deep_training_lambda)

    def _stem_layers(self) -> List[nn.Module]:
        return [self.stem] if self.deploy else [self.stem1, self.stem2]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        if min(x.shape[-2:]) < self.total_stride:
            raise ConfigError(
                f'input of {x.shape[-2]}x{x.shape[-1]} pixels is smaller than the '
                f'backbone\'s total stride {self.total_stride}: resize inputs to at '
                f'least {self.total_stride}x{self.total_stride} (the COCO configs '
                f'resize to 1280x800)')
        if self.deploy and onednn_enabled(x):
            return self._onednn_plan()(x)
        if self.deploy:
            x = self.stem(x)
        else:
            x = self.stem1(x)
            x = deep_training_nonlinearity(x, self.act_learn)
            x = self.stem2(x)
        outs = []
        for i, block in enumerate(self.stages):
            if self.with_cp and torch.is_grad_enabled():
                # recomputed in the backward pass instead of kept (mmdet's with_cp)
                x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _onednn_plan(self) -> OneDNNPlan:
        # Built on first use, rebuilt when any weight changes (e.g. loading).
        plan = self.__dict__.get('_plan')
        if plan is None or plan.key != OneDNNPlan.key_of(self):
            plan = self.__dict__['_plan'] = OneDNNPlan(self)
        return plan

    def __getstate__(self) -> dict:
        # Packed oneDNN tensors cannot be copied or pickled; a copy rebuilds.
        state = dict(super().__getstate__())
        state.pop('_plan', None)
        return state

    def switch_to_deploy(self) -> None:
        """Reparameterize to the fused form in place (no-op if already fused).

        Refuses while ``act_learn != 1``. Afterwards the state dict has the keys
        and shapes of a backbone built with ``deploy=True``.
        """
        if self.deploy:
            return
        check_fusable(self.act_learn)
        activation = self.stem2[2]
        activation.switch_to_deploy()
        self.stem = nn.Sequential(merged_conv(self.stem1, self.stem2[:2]), activation)
        del self.stem1, self.stem2
        for block in self.stages:
            block.switch_to_deploy()
        self.deploy = True

    def init_weights(self) -> None:
        """Load the ``init_cfg`` Pretrained checkpoint, else the official init."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            if cfg.get('checkpoint'):
                load_pretrained(self, cfg['checkpoint'], cfg.get('key'),
                                cfg.get('prefix'))
                self._is_init = True
                return
            print_log(
                'VanillaNet: no ImageNet checkpoint (init_cfg checkpoint=None), '
                'training from scratch. The paper fine-tunes official ImageNet '
                'weights: set `pretrained` in the config for its COCO results.',
                logger='current', level=logging.WARNING)
            self.init_cfg = dict(type='TruncNormal', layer='Conv2d', std=0.02,
                                 bias=0.0)
        super().init_weights()

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        for layer in self._stem_layers() + list(self.stages[:self.frozen_stages]):
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'VanillaNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer id and ``max_id`` of a parameter for layer-wise LR decay.

        The official map: the stem is layer 0, block ``i`` is layer
        ``i // 2 + 1``, anything outside the backbone (neck, heads) is layer
        ``num_layers + 1`` with ``num_layers = (num_blocks - 1) // 2 + 1``;
        ``max_id = num_layers + 2``, so mmpretrain's
        ``rate ** (max_id - layer_id - 1)`` gives the official
        ``rate ** (num_layers + 1 - layer_id)``: 1 for neck and heads, the
        smallest LR for the stem.
        """
        num_layers = (self.num_blocks - 1) // 2 + 1
        if not param_name.startswith(prefix):
            return num_layers + 1, num_layers + 2
        name = param_name[len(prefix):]
        if name.startswith(('stem.', 'stem1.', 'stem2.')):
            layer_id = 0
        elif name.startswith('stages.'):
            layer_id = int(name.split('.')[1]) // 2 + 1
        else:
            layer_id = num_layers + 1
        return layer_id, num_layers + 2


MMPRETRAIN_MODELS.register_module(module=VanillaNet)
