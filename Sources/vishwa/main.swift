print("vishwa")
