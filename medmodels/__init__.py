"""medmodels: deep-learning models for medical imaging, sequence screening and literature mining.

A research and decision-support tool, not a medical device.
"""

import os

# Intel MKL's strict conditional numerical reproducibility: a prediction is the same to the last bit whatever
# the number of torch threads or the CPU generation (without it about 1 peptide in 5,000 moves in the 8th
# decimal between 1 and 2 threads), so the batch engines agree byte for byte. MKL reads it at its first call.
os.environ.setdefault("MKL_CBWR", "AVX2,STRICT")

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
