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


def test_efficiency_is_the_median_of_paired_ratios_and_never_above_one():
    from mmvanilla.utils.timing import paired_efficiency
    # the machine slows down in round 2 for both sides: the pair keeps its ratio
    assert paired_efficiency([80, 40, 88], [100, 50, 100]) == (0.8, '')
    # unpaired medians would read 80 / 100 = 0.8 from other rounds' figures; a
    # reference that reads low in one round cannot lift the median above the rest
    assert paired_efficiency([90, 90, 90], [100, 60, 100])[0] == 0.9
    value, why = paired_efficiency([120, 110, 130], [100, 100, 100])
    assert value is None and 'not this machine\'s peak' in why
