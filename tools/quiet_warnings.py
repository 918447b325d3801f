"""Imported first by every tool: hide one known third-party deprecation warning.

mmengine imports ``pkg_resources``, which setuptools deprecates with a
UserWarning on every import: nothing a user of these tools can act on.
Every other warning stays.
"""
import warnings

warnings.filterwarnings('ignore', message='pkg_resources is deprecated',
                        category=UserWarning)
