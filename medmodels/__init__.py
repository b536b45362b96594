"""medmodels: deep-learning models for medical imaging, sequence screening and literature mining.

A research and decision-support tool, not a medical device.
"""

from medmodels.cards import DISCLAIMER, CheckpointError, ModelCard
from medmodels.checkpoints import installed_models, load_checkpoint, save_checkpoint
from medmodels.registry import create_model, get_model_info, list_models, register_model

__version__ = "0.1.0"

__all__ = [
    "DISCLAIMER",
    "CheckpointError",
    "ModelCard",
    "create_model",
    "get_model_info",
    "installed_models",
    "list_models",
    "load_checkpoint",
    "register_model",
    "save_checkpoint",
]
