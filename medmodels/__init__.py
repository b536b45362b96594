"""medmodels: deep-learning models for medical imaging, sequence screening and literature mining.

A research and decision-support tool, not a medical device.
"""

from medmodels.registry import create_model, get_model_info, list_models, register_model
from medmodels.checkpoints import (
    CheckpointError,
    ModelCard,
    installed_models,
    load_checkpoint,
    save_checkpoint,
)

__version__ = "0.1.0"

DISCLAIMER = (
    "medmodels is a research and decision-support tool, not a medical device. "
    "Its outputs are not a diagnosis and must not replace the judgement of a qualified clinician."
)

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
