"""Imported right after ``quiet_warnings`` by the tools that run models.

Re-executes the process once with mmvanilla's glibc malloc settings
(``mmvanilla/runtime.py``; ``MMVANILLA_TUNED_RUNTIME=0`` or
``--no-tuned-runtime`` turns them off) before torch, mmdet and mmvanilla are
imported, so that those imports, most of a tool's start-up, happen once.
``mmvanilla/runtime.py`` is loaded by path: importing it as
``mmvanilla.runtime`` would import the whole package first.
"""
import importlib.util
import os
import os.path as osp
import sys

if '--no-tuned-runtime' in sys.argv[1:]:
    os.environ['MMVANILLA_TUNED_RUNTIME'] = '0'
_spec = importlib.util.spec_from_file_location(
    'mmvanilla_runtime', osp.join(osp.dirname(osp.abspath(__file__)), osp.pardir,
                                  'mmvanilla', 'runtime.py'))
_runtime = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runtime)
_runtime.reexec_with_tuned_runtime()
