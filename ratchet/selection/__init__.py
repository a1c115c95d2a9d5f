"""The test-selection engine: which tests a change affects, and exact numbers
without running the rest.

``plugin`` records, inside the project's pytest process, what each test
executed; ``testmap`` keeps it per clone; ``shapes`` tells import-time code
from function bodies; ``plan`` decides what must run; ``session`` runs it.
"""
