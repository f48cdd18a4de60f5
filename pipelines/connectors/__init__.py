"""Connectors: `defectflow pull` fetches the tools' API pages into the exports folder.

Each connector writes the raw pages as the same files a hand export gives, so the ingest
adapters read them unchanged (docs/contract.md "Pulling from the APIs").
"""
