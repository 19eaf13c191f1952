// GLM module placeholder
