import mmvanilla.patches as patches

patches.apply()  # before the hooks import mmdet.models (see patches, 4.)

from .hooks import *  # noqa: E402,F401,F403
from .optimizers import *  # noqa: E402,F401,F403
from .runner import *  # noqa: E402,F401,F403
