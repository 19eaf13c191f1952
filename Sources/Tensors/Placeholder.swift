// Tensors module placeholder
