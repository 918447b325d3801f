"""The inference engines an artefact runs on: OpenVINO (default) and ONNX
Runtime, behind one call: inputs by name in, outputs by name out."""
import os
from typing import Callable, Dict

import numpy as np

from .cpu import cpu_has_native_bf16
from .errors import RuntimeInputError

ENGINES = ('openvino', 'onnxruntime')
#: Set to 1 to run bf16 where the CPU lacks it (emulated, slow): to measure
#: the accuracy of a bf16 deployment on a machine that cannot run it fast.
EMULATED_BF16_ENV = 'MMVANILLA_EMULATED_BF16'

Run = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]


def check_precision_runs(precision: str, engine: str, flags=None) -> None:
    """Refuse, in one line, a precision this CPU or engine cannot run."""
    if precision != 'bf16':
        return
    if engine != 'openvino':
        raise RuntimeInputError('bf16 artefacts run with --engine openvino (ONNX Runtime has '
                                'no bf16 CPU kernels); use the fp32 or int8 artefact with it')
    if not cpu_has_native_bf16(flags) and os.environ.get(EMULATED_BF16_ENV) != '1':
        raise RuntimeInputError(
            'this CPU has no native bf16 (neither avx512_bf16 nor amx_bf16 in /proc/cpuinfo): '
            'deploy fp32 or int8 for it instead (set MMVANILLA_EMULATED_BF16=1 to run it '
            'emulated anyway, slowly, to check its accuracy)')


def open_engine(model: str, precision: str, engine: str = 'openvino') -> Run:
    """A function running ``model`` on the CPU with ``engine`` in ``precision``."""
    if engine not in ENGINES:
        raise RuntimeInputError(f'--engine must be one of {", ".join(ENGINES)}, got {engine!r}')
    check_precision_runs(precision, engine)
    try:
        return (_openvino if engine == 'openvino' else _onnxruntime)(model, precision)
    except ImportError:
        package = 'openvino' if engine == 'openvino' else 'onnxruntime'
        raise RuntimeInputError(f'{engine} is not installed: pip install {package} (or '
                                f'choose the other engine with --engine)') from None
    except RuntimeInputError:
        raise
    except Exception as e:  # the engine's own refusal of a model file
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        reason = lines[-1] if lines else type(e).__name__  # (the engines' last line says why)
        raise RuntimeInputError(f'{engine} cannot load {model!r}: {reason[:300]}') from None


def _openvino(model: str, precision: str) -> Run:
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
    return run


def _onnxruntime(model: str, precision: str) -> Run:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3  # its notes about initialisers are not the user's
    session = ort.InferenceSession(model, options, providers=['CPUExecutionProvider'])
    names = [out.name for out in session.get_outputs()]

    def run(inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, inputs)))
    return run
