"""The inference engines an artefact runs on: OpenVINO (default) and ONNX
Runtime, behind one call: inputs by name in, outputs by name out."""
from typing import Callable, Dict, List, Optional, Set, Tuple

import numpy as np

from .cpu import bf16_slower_than_fp32, cpu_has_native_bf16
from .errors import RuntimeInputError

ENGINES = ('openvino', 'onnxruntime')

Run = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]


def _guarded(engine: str, model: str, run: Run) -> Run:
    """``run`` with the engine's failures as one :class:`RuntimeInputError`."""
    def guarded(inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        try:
            return run(inputs)
        except Exception as e:
            raise RuntimeInputError(f'{engine} failed running {model!r}: '
                                    f'{_reason(e)}') from None
    return guarded


def _reason(e: Exception) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return (lines[-1] if lines else type(e).__name__)[:300]  # (the engines' last line says why)


def check_precision_runs(precision: str, engine: str, flags=None) -> None:
    """Refuse, in one line, a precision this CPU or engine cannot run."""
    if precision != 'bf16':
        return
    if engine != 'openvino':
        raise RuntimeInputError('bf16 artefacts run with --engine openvino (ONNX Runtime has '
                                'no bf16 CPU kernels); use the fp32 or int8 artefact with it')
    if not cpu_has_native_bf16(flags):
        # (OpenVINO would run fp32 under the bf16 hint: not what was deployed)
        raise RuntimeInputError(
            'this CPU has no native bf16 (neither avx512_bf16 nor amx_bf16 in /proc/cpuinfo): '
            'deploy fp32 or int8 for it instead')


def bf16_note(precision: str, flags: Set[str] = None, vendor: str = None) -> Optional[str]:
    """A note for bf16 on a CPU where it runs but is likely slower than fp32
    (Intel without AMX), else None. It runs as asked: the note only informs."""
    if precision != 'bf16' or not bf16_slower_than_fp32(flags, vendor):
        return None
    return ('note: this Intel CPU has avx512_bf16 but no AMX; on such a Xeon bf16 took '
            '1.4-1.7x the time of fp32 for a 1280x800 detector, in PyTorch and in OpenVINO '
            '(docs/benchmarks.md), so fp32 is likely faster here')


def open_engine(model: str, precision: str, engine: str = 'openvino'
                ) -> Tuple[Run, List[str]]:
    """A function running ``model`` on the CPU with ``engine`` in
    ``precision``, and the model's output names."""
    if engine not in ENGINES:
        raise RuntimeInputError(f'--engine must be one of {", ".join(ENGINES)}, got {engine!r}')
    check_precision_runs(precision, engine)
    try:
        run, names = (_openvino if engine == 'openvino' else _onnxruntime)(model, precision)
        return _guarded(engine, model, run), names
    except ImportError:
        package = 'openvino' if engine == 'openvino' else 'onnxruntime'
        raise RuntimeInputError(f'{engine} is not installed: pip install {package} (or '
                                f'choose the other engine with --engine)') from None
    except RuntimeInputError:
        raise
    except Exception as e:  # the engine's own refusal of a model file
        other = [o for o in ENGINES if o != engine][0]
        hint = '' if precision == 'bf16' else f' (the other engine may: --engine {other})'
        raise RuntimeInputError(f'{engine} cannot load {model!r}: {_reason(e)}{hint}') from None


def _openvino(model: str, precision: str) -> Tuple[Run, List[str]]:
    import openvino as ov
    core = ov.Core()
    # OpenVINO runs non-quantized operations in bf16 by default on CPUs with
    # bf16: the fp32 and int8 artefacts ask for f32 (boxes and NMS stay exact).
    hint = 'bf16' if precision == 'bf16' else 'f32'
    compiled = core.compile_model(model, 'CPU', {'INFERENCE_PRECISION_HINT': hint})
    request = compiled.create_infer_request()
    names = [out.get_any_name() for out in compiled.outputs]

    def run(inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        results = request.infer(inputs)
        return {name: np.array(results[out]) for name, out in zip(names, compiled.outputs)}
    return run, names


def _onnxruntime(model: str, precision: str) -> Tuple[Run, List[str]]:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3  # its notes about initialisers are not the user's
    session = ort.InferenceSession(model, options, providers=['CPUExecutionProvider'])
    names = [out.name for out in session.get_outputs()]

    def run(inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, inputs)))
    return run, names
