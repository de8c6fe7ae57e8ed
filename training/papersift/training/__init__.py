"""The training job (``papersift-train``): LightFM fit, evaluation, model bundles.

Not built yet: it arrives with the model issue. Until then the server ranks with the
``POPULAR`` strategy.
"""
