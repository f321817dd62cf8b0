"""Generation mode: chat models, prompts, the local model, and the checker that keeps only supported claims."""
