"""Reading contact lists: encodings, columns, cleaning, validation, one merged audience."""
