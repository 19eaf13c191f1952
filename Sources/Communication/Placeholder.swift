// Communication module placeholder
