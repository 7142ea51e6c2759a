"""Console scripts: ``reencoder-translate``, ``reencoder-export``, ``reencoder-heatmap``."""
