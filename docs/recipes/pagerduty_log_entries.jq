# One page of GET /incidents (the first input) with each incident's log entries
# embedded as `log_entries`, taken from pages of GET /log_entries (the other
# inputs). Run with `jq -s -f`; the README's PagerDuty recipe shows the calls.
# Resolved incidents have no `acknowledgements` left: only their log keeps the
# acknowledgement time.
(.[1:] | map(.log_entries[]) | group_by(.incident.id) | map({key: .[0].incident.id, value: .}) | from_entries) as $log
| .[0]
| .incidents |= map(. + {log_entries: ($log[.id] // [])})
