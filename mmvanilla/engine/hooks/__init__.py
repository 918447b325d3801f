from .checkpoint_fit_hook import CheckpointFitHook
from .console_summary_hook import ConsoleSummaryHook
from .deep_training_hook import DeepTrainingHook
from .deploy_precision_hook import DeployPrecisionHook
from .finite_loss_hook import FiniteLossHook
from .guarded_visualization_hook import GuardedDetVisualizationHook
from .rotate_after_save_checkpoint_hook import RotateAfterSaveCheckpointHook
from .switch_to_deploy_hook import SwitchToDeployHook

__all__ = ['CheckpointFitHook', 'ConsoleSummaryHook', 'DeepTrainingHook',
           'DeployPrecisionHook', 'FiniteLossHook', 'GuardedDetVisualizationHook', 'RotateAfterSaveCheckpointHook',
           'SwitchToDeployHook']
