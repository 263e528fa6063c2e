"""What the course trained, shipped with it: the world BERT and GPT, and the result tables of notebooks 06 and 07.

Notebooks load these instead of training them (:mod:`tlcourse.world_models`, the ``experiments`` modules), so a
new machine runs every notebook in seconds. Each artifact is made by the course's own recipe, rebuilt by one
command, and checked at every load against the recipe and data it came from (:mod:`~tlcourse.artifacts.shipped`):

.. code-block:: bash

    python -m tlcourse.artifacts list                 # names, sizes, fingerprints
    python -m tlcourse.artifacts check                # every artifact against today's recipes and data
    python -m tlcourse.artifacts build [NAME ...]     # retrain from the recipes (all: about 30 min on 2 cores)

The catalog is :data:`~tlcourse.artifacts.catalog.ARTIFACTS`.
"""

from tlcourse.artifacts.shipped import SHIPPED, StaleArtifactError, artifact_dir, fingerprint_of, verified

__all__ = ["SHIPPED", "StaleArtifactError", "artifact_dir", "fingerprint_of", "verified"]
