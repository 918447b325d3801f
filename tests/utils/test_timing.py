"""The one timing loop: it waits for the device in use, and fp32 on CUDA is
fp32 unless TF32 is asked for. No GPU needed: CUDA's calls are recorded."""
import torch

from mmvanilla.utils.timing import cuda_device, cuda_fp32_math, time_calls, timed


def test_timing_waits_for_the_device_in_use(monkeypatch):
    waited = []
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda device=None: waited.append(device))
    monkeypatch.setattr(torch.cuda, 'current_device', lambda: 0)
    timed(lambda: None, 'cuda:1')
    assert waited == [torch.device('cuda', 1)] * 2
    waited.clear()
    time_calls({'a': lambda: None}, rounds=2, device='cuda')
    assert waited == [torch.device('cuda', 0)] * 4  # 'cuda' is the current device
    waited.clear()
    timed(lambda: None, 'cpu')
    timed(lambda: None)
    assert waited == []
    assert cuda_device('cpu') is None and cuda_device(torch.device('cuda', 2)).index == 2


def test_fp32_on_cuda_is_fp32_unless_tf32_is_asked_for():
    def tf32_state():
        backends = torch.backends
        if hasattr(getattr(backends.cudnn, 'conv', None), 'fp32_precision'):
            return [backends.cuda.matmul.fp32_precision == 'tf32',
                    backends.cudnn.conv.fp32_precision == 'tf32']
        return [backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32]
    before = tf32_state()
    with cuda_fp32_math(False):
        assert tf32_state() == [False, False]  # PyTorch's default: convolutions in TF32
    with cuda_fp32_math(True):
        assert tf32_state() == [True, True]
    assert tf32_state() == before
