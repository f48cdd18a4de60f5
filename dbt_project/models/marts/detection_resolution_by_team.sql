-- docs/metrics.md "Time to detect and time to resolve" (settled detail 7) per team,
-- defects only: the body is macros/detection_resolution.sql::detection_resolution_by_slice.
{{ detection_resolution_by_slice('team', defects=ref('int_defects')) }}
