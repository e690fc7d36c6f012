# The ledger's replay: the rules a ledger holds now. The ledger (see provider/ipvs/ledger) is a
# journal, appended to by shell builtins:
#   a rule line, "-A …" or "-a …", optionally tagged " #owner=<owner>" and " #tx=<id>", sets its
#     object (a service, or one real server of a service), replacing any earlier line of it;
#   "#drop <words>" drops the objects whose line starts with those words and a blank (2..8 words;
#     an IPv4 fwmark service's words are the start of the IPv6 one's: "-f 8" does not take "-f 8 -6");
#   "#abort <id>" cancels the records tagged " #tx=<id>" that come before it (a change the kernel
#     refused).
# Later records win. Walking the journal backwards, a line survives when no later record dropped,
# replaced or aborted it.
# Variable (awk -v): rules  when 1, prints the rules as ipvsadm -R reads them (tags dropped,
#   services first: the boot restore); otherwise the journal compacted, in the order the lines
#   came, with their tags (a change still under way may yet be cancelled by an "#abort" appended
#   after the compaction).
{ line[NR] = $0 }
END {
	for (i = NR; i >= 1; i--) {
		l = line[i]
		sub(/^[ \t\r]+/, "", l)
		sub(/[ \t\r]+$/, "", l)
		full = l
		if (l ~ /^#abort /) { split(l, w, " "); aborted[w[2]] = 1; continue }
		if (match(l, / #tx=[^ ]+/)) {
			if (substr(l, RSTART + 5, RLENGTH - 5) in aborted) continue
			l = substr(l, 1, RSTART - 1) substr(l, RSTART + RLENGTH)
		}
		if (l ~ /^#drop /) { dropped[substr(l, 7) " "] = 1; continue }
		if (l !~ /^-[Aa] /) continue
		n = split(l, w, " ")
		if (seen[objectKey(w, n)]++) continue
		if (!isDropped(w, n)) keep[++k] = full
	}
	for (i = k; i >= 1; i--) {
		l = keep[i]
		if (rules != 1) { print l; continue }
		sub(/ #(owner|tx)=.*/, "", l)
		if (l ~ /^-A /) print l
		else rs[++m] = l
	}
	for (i = 1; i <= m; i++) print rs[i]
}
# The words that name a line's object: a service's key, or its key and the real server's address.
function objectKey(w, n,    j, key, last) {
	last = (w[1] == "-A") ? (w[4] == "-6" ? 4 : 3) : 0
	for (j = 2; j <= n && !last; j++) if (w[j] == "-r") last = j + 1
	key = w[1]
	for (j = 2; j <= last && j <= n; j++) key = key " " w[j]
	return key
}
function isDropped(w, n,    j, key) {
	key = w[1]
	for (j = 2; j <= 8 && j <= n; j++) {
		key = key " " w[j]
		if ((key " ") in dropped && w[j + 1] != "-6") return 1
	}
	return 0
}
