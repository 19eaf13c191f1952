// Tokenization placeholder
