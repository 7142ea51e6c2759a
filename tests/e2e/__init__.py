"""End-to-end tests: real data through the console scripts and fairseq training (marked ``slow``)."""
