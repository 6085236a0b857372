"""Records (records.py), loaders and validators (loaders.py) and format converters (exporters.py) for every
dataset the studio handles."""
