"""Training and evaluation on labeled articles; they use the same Tagger as the service."""
