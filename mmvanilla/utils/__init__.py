"""The bottom layer: errors, CPU facts, paths, safe checkpoint files, console,
the --cfg-options parser (mmengine alone), output comparison and timing (torch
alone: the GPU evidence times the backbone before mmcv's ops exist).

Nothing here imports :mod:`mmvanilla.models`, ``engine``, ``deploy`` or ``apis``.
"""
