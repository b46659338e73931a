"""Rules of the preferences service: pure Python, no I/O.

- `batches`: the two batches, their windows and what a page says about them;
- `plan`: checking an imported enrollment plan, row by row;
- `eligibility`: who may fill preferences, from the facts other services publish;
- `filling`: the rules of one submission of 平行志愿A–H.
"""
