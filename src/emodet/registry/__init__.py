"""Model registry and lineage on MLflow (tracking + model registry), an optional extra.

Runs are logged to MLflow (config, metrics per epoch and final, HTML report, model file and
validation profile), their models registered as versions of a registered model with their parent
version, data fingerprints and the comparison that promoted them; an alias (``champion`` by default)
marks the deployed version. A registry is a folder (a local SQLite store, no server) or any MLflow
tracking URI. Models are referred to as ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``
(MLflow's own syntax) wherever a model path is accepted.

Install with ``pip install "emodet[registry]"``. Nothing here imports MLflow until a registry is
opened, so ``emodet detect`` with a model file never loads it.
"""

from emodet.registry.references import is_reference, parse_reference
from emodet.registry.store import DEFAULT_ALIAS, REGISTRY_ENV, Registry, open_registry

__all__ = ["DEFAULT_ALIAS", "REGISTRY_ENV", "Registry", "is_reference", "open_registry", "parse_reference"]
