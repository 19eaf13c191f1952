// SentencePiece module placeholder
