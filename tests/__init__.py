"""The test suite: ``unit/`` (fast) and ``e2e/`` (end to end, marked ``slow``)."""
