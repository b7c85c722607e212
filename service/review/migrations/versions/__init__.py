"""One module per schema revision, applied in order from the first."""
