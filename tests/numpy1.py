"""Write pickles as numpy 1.x did (``numpy.core.multiarray``), under numpy 2."""
import contextlib
import warnings


@contextlib.contextmanager
def numpy1_pickles():
    """While active, numpy arrays and scalars pickle under numpy 1.x's module
    name, as in checkpoints written before numpy 2 (OpenMMLab's model zoo)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1: already so
        yield
        return
    functions = (multiarray._reconstruct, multiarray.scalar)
    try:
        for fn in functions:
            fn.__module__ = 'numpy.core.multiarray'
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)  # numpy.core: numpy 2's alias
            yield
    finally:
        for fn in functions:
            fn.__module__ = 'numpy._core.multiarray'
