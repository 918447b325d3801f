"""Run mmdet's own ``tools/analysis_tools/benchmark.py`` on a CPU-only machine.

    python benchmarks/mmdet_benchmark_cpu.py CONFIG --checkpoint CKPT --task inference [...]

mmdet's tool (shipped in the mmdet package) moves the model with
``model.cuda()``, calls ``torch.cuda.synchronize()`` around every step and
reports CUDA memory, all of which fail without a GPU. With no CUDA device this
runs the unmodified tool with those calls as no-ops (the model stays on the
CPU, there is nothing to synchronize, CUDA memory reads 0). Everything else (data loading, ``model.test_step`` timing,
warm-up, FPS) is mmdet's. It runs in the default runtime: no mmvanilla settings.
"""
import os.path as osp
import runpy
import sys

import mmdet
import mmdet.utils.benchmark as mmdet_benchmark
import torch
from mmengine.model import BaseDataPreprocessor, BaseModel

if not torch.cuda.is_available():
    torch.cuda.synchronize = lambda *args, **kwargs: None
    for cls in (torch.nn.Module, BaseModel, BaseDataPreprocessor):  # all `.cuda()`s
        cls.cuda = lambda self, *args, **kwargs: self
    mmdet_benchmark.get_max_cuda_memory = lambda *args, **kwargs: 0

tool = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'analysis_tools',
                'benchmark.py')
sys.argv = [tool] + sys.argv[1:]
runpy.run_path(tool, run_name='__main__')
