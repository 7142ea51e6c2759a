"""Chinese-English data preparation for the Reencoder: readers, cleaning, leak-free
multi-reference splits, sentencepiece subwords and fairseq binaries (``reencoder-data``)."""
