"""The HTTP layer: thin Flask views over the engine's Tagger."""
