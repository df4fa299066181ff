"""One module per revision: 0001 is the schema 0.1 shipped."""
