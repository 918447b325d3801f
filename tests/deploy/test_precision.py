import pytest

from mmvanilla.deploy import resolve_precision
from mmvanilla.utils import cpu
from mmvanilla.utils.errors import ConfigError


def test_cpu_without_native_bf16_runs_fp32_with_one_note(monkeypatch):
    # An AVX-512 CPU without AVX512-BF16 or AMX (e.g. the Intel Xeon of this
    # machine kind): bf16 would be emulated, slower than fp32.
    monkeypatch.setattr(cpu, 'cpu_flags', lambda: {'avx512f', 'avx512_vnni'})
    monkeypatch.delenv('MMVANILLA_EMULATED_BF16', raising=False)
    notes = []
    assert resolve_precision('bf16', 'cpu', notice=notes.append) == 'fp32'
    assert len(notes) == 1
    assert 'no native bf16' in notes[0] and 'running fp32 instead' in notes[0]


def test_emulated_bf16_runs_on_request_for_accuracy_checks(monkeypatch):
    monkeypatch.setattr(cpu, 'cpu_flags', lambda: {'avx2'})
    monkeypatch.setenv('MMVANILLA_EMULATED_BF16', '1')
    notes = []
    assert resolve_precision('bf16', 'cpu', notice=notes.append) == 'bf16'
    assert len(notes) == 1 and 'emulated' in notes[0]


@pytest.mark.parametrize('vendor,flags', [
    ('AuthenticAMD', {'avx512f', 'avx512_bf16'}),  # Zen 4, Zen 5
    ('GenuineIntel', {'avx512f', 'avx512_bf16', 'amx_bf16'}),  # a Xeon with AMX
])
def test_cpu_with_fast_native_bf16_runs_bf16_silently(monkeypatch, vendor, flags):
    monkeypatch.setattr(cpu, 'cpu_flags', lambda: flags)
    monkeypatch.setattr(cpu, 'cpu_vendor', lambda: vendor)
    notes = []
    assert resolve_precision('bf16', 'cpu', notice=notes.append) == 'bf16'
    assert notes == []


def test_intel_bf16_without_amx_runs_as_asked_with_a_note_that_fp32_is_faster(monkeypatch):
    # a Xeon whose hypervisor hides AMX: bf16 measured 1.4-1.7x fp32's time
    monkeypatch.setattr(cpu, 'cpu_flags', lambda: {'avx512f', 'avx512_bf16', 'avx512_vnni'})
    monkeypatch.setattr(cpu, 'cpu_vendor', lambda: 'GenuineIntel')
    notes = []
    assert resolve_precision('bf16', 'cpu', notice=notes.append) == 'bf16'
    assert len(notes) == 1
    assert 'no AMX' in notes[0] and 'running bf16 as asked' in notes[0]


@pytest.mark.parametrize('precision,device,hint', [
    ('fp16', 'cpu', '--precision bf16'),
    ('int4', 'cpu', 'fp32, bf16, int8, fp16'),
])
def test_impossible_precision_is_one_clear_error(precision, device, hint):
    with pytest.raises(ConfigError, match=hint.replace('-', r'\-')):
        resolve_precision(precision, device)


def test_fp32_and_int8_need_no_cpu_feature(monkeypatch):
    monkeypatch.setattr(cpu, 'cpu_flags', lambda: set())
    assert resolve_precision('fp32') == 'fp32'
    assert resolve_precision('int8') == 'int8'


def test_precision_hook_refuses_an_unknown_precision():
    from mmvanilla.engine.hooks import DeployPrecisionHook
    with pytest.raises(ConfigError, match="DeployPrecisionHook: precision must be one of "
                                          "fp32, bf16, int8, fp16, got 'int4'"):
        DeployPrecisionHook('int4')


def test_the_runtime_reads_every_precision_the_table_deploys():
    from mmvanilla.deploy.precision import TABLE
    from mmvanilla_runtime.artefact import PRECISIONS
    assert PRECISIONS == tuple(name for name, row in TABLE.items() if row.artefact)


def test_int8_on_a_gpu_machine_runs_on_the_cpu_and_says_so():
    notes = []
    assert resolve_precision('int8', 'cuda', notice=notes.append) == 'int8'
    assert len(notes) == 1 and 'runs its artefact on the CPU' in notes[0]

