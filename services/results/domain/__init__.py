"""Rules of the results service (pure, no I/O).

`admission` holds the parallel-preference dispatch engine (平行志愿投档).
"""
