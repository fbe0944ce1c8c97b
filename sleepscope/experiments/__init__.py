"""The paper's experiment end to end: `paper` (protocol, resumption), `budgets`, `tables`, `plots`, `timing`."""
