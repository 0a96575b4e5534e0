"""The course: what every section notebook calls: the section run, figures,
tables and the explorer (its computations and its widgets). Imports every
layer below it."""
