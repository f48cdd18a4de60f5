"""Writers of vendor-format exports for the synthetic generator (`defectflow generate`)."""
