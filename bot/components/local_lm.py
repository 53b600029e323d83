"""Rasa's LanguageModelFeaturizer, loading weights only from a local directory.

For shops that have a German BERT: ``config.transformers.yml`` uses this component, and
the weights directory (``save_pretrained`` output of a TF model and its tokenizer) comes
from the environment variable named in ``weights_env`` (default ``KDBOT_LM_WEIGHTS``).
Nothing is downloaded: a missing variable or directory stops with a clear error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.lm_featurizer import LanguageModelFeaturizer
from rasa.shared.exceptions import RasaException

DEFAULT_WEIGHTS_ENV = "KDBOT_LM_WEIGHTS"


class LocalWeightsError(RasaException):
    """The local language-model weights are not configured or not there."""


def local_weights(env_var: str) -> Path:
    """The weights directory named by ``env_var``, checked before anything loads it.

    Args:
        env_var: Name of the environment variable holding the directory.

    Returns:
        The directory.

    Raises:
        LocalWeightsError: The variable is unset or the directory holds no model.
    """
    value = os.environ.get(env_var, "").strip()
    if not value:
        raise LocalWeightsError(
            f"{env_var} is not set: point it at a local directory with the language "
            f"model's weights and tokenizer (save_pretrained output); nothing is downloaded")
    path = Path(value).expanduser().resolve()
    if not (path / "config.json").is_file():
        raise LocalWeightsError(f"{env_var}={value}: no config.json in that directory")
    return path


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LocalLanguageModelFeaturizer(LanguageModelFeaturizer):
    """LanguageModelFeaturizer whose ``model_weights`` is a local path from the environment."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Rasa's defaults plus ``weights_env`` (the variable with the weights path)."""
        return {**LanguageModelFeaturizer.get_default_config(),
                "weights_env": DEFAULT_WEIGHTS_ENV}

    def __init__(self, config: Dict[str, Any], execution_context: ExecutionContext) -> None:
        """Resolves the local weights, then loads them like Rasa's featurizer.

        Args:
            config: Component config (``model_name``, ``weights_env`` ...).
            execution_context: Rasa's execution context.
        """
        weights = local_weights(str(config.get("weights_env") or DEFAULT_WEIGHTS_ENV))
        super().__init__({**config, "model_weights": str(weights), "cache_dir": None},
                         execution_context)

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext
               ) -> LocalLanguageModelFeaturizer:
        """Creates the component (see parent class for the arguments)."""
        return cls(config, execution_context)
