// Checkpoint placeholder
