"""What the user writes: the routine model, located YAML, the loader, wording and phrasebooks."""
