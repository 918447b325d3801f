"""A result file names its CPU closely enough to tell two apart: two Xeons of
one name, one with AMX and one without, gave different INT8 AP on OpenVINO."""
from mmvanilla.utils.cpu import cpu_model
from mmvanilla_runtime import cpu as runtime_cpu

XEON = '''processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model name\t: Intel(R) Xeon(R) Processor
model\t\t: 207
flags\t\t: fpu sse avx avx2 avx512f avx512_vnni avx_vnni avx512_bf16 {amx}
processor\t: 1
model\t\t: 1
'''


def describe(tmp_path, monkeypatch, text: str) -> str:
    path = tmp_path / 'cpuinfo'
    path.write_text(text)
    monkeypatch.setattr(runtime_cpu, 'CPUINFO', str(path))
    return cpu_model()


def test_cpu_model_names_family_model_and_the_int8_bf16_extensions(tmp_path, monkeypatch):
    with_amx = describe(tmp_path, monkeypatch, XEON.format(amx='amx_bf16 amx_tile amx_int8'))
    without = describe(tmp_path, monkeypatch, XEON.format(amx=''))
    assert with_amx.startswith('Intel(R) Xeon(R) Processor (family 6 model 207), ')
    assert with_amx.endswith(' avx512f avx512_vnni avx_vnni avx512_bf16 amx_bf16 amx_int8')
    assert without.endswith(' avx512f avx512_vnni avx_vnni avx512_bf16')
    zen3 = describe(tmp_path, monkeypatch, 'cpu family\t: 25\nmodel\t\t: 1\n'
                    'model name\t: AMD EPYC\nflags\t\t: sse avx avx2 fma\n')
    assert zen3.startswith('AMD EPYC (family 25 model 1), ') and zen3.endswith(' cores, avx2')


def test_cpu_model_without_cpuinfo(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime_cpu, 'CPUINFO', str(tmp_path / 'absent'))
    assert cpu_model().startswith('unknown, ') and cpu_model().endswith(' cores, no avx')
