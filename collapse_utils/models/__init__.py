"""Small, readable torch models and their fit / evaluate / sample functions (one model family per module)."""
