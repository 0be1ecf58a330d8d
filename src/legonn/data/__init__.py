"""Data: reading and checking text files, parallel corpora, batching by token count."""
