"""Code embeddings: embedders by name (`embedders`), the offline MiniLM encoder (`minilm`),
vectors kept in the run store (`cache`) and whitened-PCA archive measures (`projection`).
"""
