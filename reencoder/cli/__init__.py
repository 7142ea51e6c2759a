"""Console scripts: ``reencoder-translate``, ``reencoder-export``, ``reencoder-heatmap``,
``reencoder-average``, ``reencoder-source-reliance`` (on :mod:`data_prep.foundation`)."""
