"""Unit tests: no training, no fairseq console scripts but the cheapest; under a minute in all."""
