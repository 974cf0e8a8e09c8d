def load(path):
	with open(path) as handle:
		for line in handle:
			if line.strip():
				yield line.split(",")
