"""Configs as the tools read them: arguments, ``--cfg-options``, runner settings."""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config

import mmvanilla.patches as patches
from mmvanilla.utils.cfg_options import CfgOptionsAction
from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.paths import writable_dir
from mmvanilla_runtime.outputs import artefact_folder_of
from mmvanilla_runtime.failures import OneLineParser

CONFIG_EXTENSIONS = ('.py', '.json', '.yaml', '.yml')


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (argparse reports anything else in one line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'{value} must be >= 1')
    return value


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """mmdet's --work-dir, --cfg-options, --launcher and --local_rank."""
    parser.allow_abbrev = False  # mmvanilla.cli reads --verbose spelled out
    parser.add_argument('--work-dir', help='the dir to save logs, models and metrics')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_verbose_arg(parser)


def add_verbose_arg(parser: argparse.ArgumentParser) -> None:
    """--verbose: mmengine's full log on the console (log files always have it)."""
    parser.add_argument('--verbose', action='store_true',
                        help="show mmengine's full log on the console (the log file in "
                        'the work dir always has it)')


def model_tool_parser(doc: str, **kwargs) -> argparse.ArgumentParser:
    """The parser of a tool that builds a model from a config: ``doc`` as its
    help, with ``--cfg-options`` and ``--verbose``."""
    # allow_abbrev=False: mmvanilla.cli reads --verbose and --no-tuned-runtime
    # spelled out, before parsing
    parser = OneLineParser(description=doc, allow_abbrev=False, **kwargs,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, key=value')
    add_verbose_arg(parser)
    return parser


def load_runner_config(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` with --cfg-options, launcher and work dir
    (default ``work_dirs/<config name>``) applied."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    check_launcher(args.launcher)
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if artefact_folder_of(osp.join(cfg.work_dir, 'log')):
        raise ConfigError(f'work dir {cfg.work_dir!r} is a deployed artefact folder: its files '
                          'must stay as tools/deploy.py wrote them; give another --work-dir')
    writable_dir(cfg.work_dir, 'work dir')
    if not args.verbose and 'runner_type' not in cfg:
        # Console: warnings plus a few lines of progress; the log file keeps all.
        cfg.runner_type = 'QuietRunner'
        add_custom_hook(cfg, 'ConsoleSummaryHook')
    return cfg


def add_custom_hook(cfg: Config, hook_type: str, **kwargs) -> None:
    """Append ``dict(type=hook_type, **kwargs)`` to the config's ``custom_hooks``."""
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type=hook_type, **kwargs)]


def config_file(path: str) -> str:
    """``path``; for ``mmdet::X``, the file X among the installed mmdet's configs
    (the rule mmengine applies to ``_base_ = 'mmdet::X'``)."""
    if not path.startswith('mmdet::'):
        return path
    import mmdet
    return osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', path[len('mmdet::'):])


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` (of :func:`config_file`) plus ``--cfg-options``, with
    errors in one line."""
    given, path = path, config_file(path)
    if not osp.isfile(path):
        raise ConfigError(f'config file {given!r} not found'
                          + (f' (looked for {path!r})' if path != given else ''))
    if not path.endswith(CONFIG_EXTENSIONS):
        raise ConfigError(f'config file {path!r} is not a config: give a .py file (mmengine '
                          f'also reads {", ".join(CONFIG_EXTENSIONS[1:])})')
    patches.apply_config_caches()  # (before the plugin that the config imports)
    try:
        cfg = Config.fromfile(path)
    except Exception as e:  # noqa: BLE001 - a config is user code: any error is the user's
        raise ConfigError(f'cannot read config {path!r}: {type(e).__name__}: '
                          f'{str(e).strip().splitlines()[-1] if str(e).strip() else e}'
                          ) from None
    if cfg_options:
        try:
            cfg.merge_from_dict(cfg_options)
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(
                f'--cfg-options do not fit {path!r}: {e} (to replace a value of '
                f'another type, e.g. a named arch by a dict, add KEY._delete_=True)'
            ) from None
    return cfg


#: What torchrun sets for each process; ``--launcher pytorch`` needs it.
TORCHRUN_ENV = ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')


def check_launcher(launcher: str) -> None:
    """``--launcher pytorch`` outside torchrun would fail deep in torch.distributed."""
    missing = [k for k in TORCHRUN_ENV if not os.environ.get(k)]
    if launcher == 'pytorch' and missing:
        raise ConfigError(f'--launcher pytorch needs the environment torchrun sets '
                          f'({", ".join(missing)} missing): start it with '
                          f'tools/dist_train.sh CONFIG NUM_PROCESSES (or torchrun), or drop '
                          f'--launcher for one process')


def command_line(tool: str, argv: Optional[List[str]]) -> str:
    """How ``tools/<tool>.py`` was called with ``argv``, for the JSON it writes."""
    args = sys.argv[1:] if argv is None else [str(a) for a in argv]
    return ' '.join([osp.relpath(sys.executable), f'tools/{tool}.py', *args])
