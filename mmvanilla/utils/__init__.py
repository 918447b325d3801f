"""The bottom layer: errors, CPU facts, paths, safe checkpoint files, console.

Nothing here imports :mod:`mmvanilla.models`, ``engine``, ``deploy`` or ``apis``.
"""
