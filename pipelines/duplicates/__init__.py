"""Duplicate candidates and clusters (docs/metrics.md "Duplicates, clusters, recurrence").

`text` turns masked titles and descriptions into TF-IDF vectors, `search`
finds each defect's nearest others without comparing all pairs, `score`
combines text, stack, environment and time into the pair score, `clusters`
connects above-threshold pairs and explicit links. The dbt Python models
`int_defect_pair_scores` and `int_defect_cluster_components` call them.
"""
