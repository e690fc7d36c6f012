# The ledger edit: one pass over the ledger (the file where a host records the IPVS rules its stacks
# own, one rule per line in ipvsadm's rule form, tagged with its owner; see provider/ipvs/ledger).
#
# Input: first (on standard input, "-") the prefixes of the objects the edit replaces, one per line
# as "<change> <prefix>" ("3 -A -t 10.0.0.1:80 ", "4 -a -t 10.0.0.1:80 -r 10.0.0.11:80 "), where
# <change> is the number of the change the prefix belongs to, ended by a line "#end"; then the
# ledger. A ledger line belongs to the first prefix that is its first 2..8 words and a blank. (The
# prefixes come on a pipe, not in -v: a batch of thousands would pass the kernel's limit of one
# argument.)
# Variable (awk -v): old  when 1, each line replaced is also written to standard error as
# "#old <change> <line>".
# Prints every other line, in order. The caller appends the new lines and renames the file.
# An IPv4 fwmark service's words are the start of the IPv6 one's: "-f 8" must not take "-f 8 -6".
!loaded {
	if ($0 == "#end") loaded = 1
	else { i = index($0, " "); H[substr($0, i + 1)] = substr($0, 1, i - 1) }
	next
}
{
	k = $1
	m = -1
	for (j = 2; j <= 8 && j <= NF; j++) {
		k = k " " $j
		if ((k " ") in H && $(j + 1) != "-6") { m = H[k " "]; break }
	}
	if (m < 0) print
	else if (old == 1) print "#old " m " " $0 > "/dev/stderr"
}
