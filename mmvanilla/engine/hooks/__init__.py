from .checkpoint_fit_hook import CheckpointFitHook
from .console_summary_hook import ConsoleSummaryHook
from .deep_training_hook import DeepTrainingHook
from .deploy_precision_hook import DeployPrecisionHook
from .switch_to_deploy_hook import SwitchToDeployHook

__all__ = ['CheckpointFitHook', 'ConsoleSummaryHook', 'DeepTrainingHook', 'DeployPrecisionHook', 'SwitchToDeployHook']
