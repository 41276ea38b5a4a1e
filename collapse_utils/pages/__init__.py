"""What one chapter page does with its results: its figures, tables, glued numbers and claims.

One module per chapter (``pages.linear_regression`` for ``notebooks/linear_regression.ipynb``). A notebook keeps
its prose, the cells that carry the idea (the simulation or experiment it runs, the formula it evaluates) and one
call per figure, table and check; the bookkeeping behind those calls lives here, where it is unit-tested. Pages sit
on top of the package: they may import any other module of it, and no module of it imports them.
"""
