"""Associates: PIN hashes and checks."""
