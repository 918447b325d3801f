"""The bottom layer: errors, CPU facts, paths, safe checkpoint files, console,
timing (torch alone: the GPU evidence times the backbone before mmcv's ops exist).

Nothing here imports :mod:`mmvanilla.models`, ``engine``, ``deploy`` or ``apis``.
"""
