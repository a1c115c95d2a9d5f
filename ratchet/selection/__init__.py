"""The test-selection engine: which tests a change affects, and exact numbers
without running the rest.

``plugin`` records, inside the project's pytest process, what each unit
(test, fixture instance, import, collection, session) executed;
``recording`` reads what it wrote; ``store`` keeps the map per clone
(SQLite); ``blocks`` splits a file into its module level and function
bodies; ``plan`` decides what must run; ``compose`` has coverage.py report
on carried and fresh lines; ``session`` runs it all.
"""
