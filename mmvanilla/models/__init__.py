from .backbones import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .reparameterize import switch_to_deploy  # noqa: F401
