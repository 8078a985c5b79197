"""The tonic / clonic / not-a-cramp classifier, its training and its shipped model files."""
