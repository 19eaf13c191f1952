print("glmcluster")
