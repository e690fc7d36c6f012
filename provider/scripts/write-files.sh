#!/bin/sh
# Functions that write the files pulumi-lvs owns on a host; each exits 1 when a step fails:
# - write_file PATH CONTENT [MODE]: writes CONTENT to PATH atomically (a temporary copy named by
#   this shell's own pid, $$, then renamed: two writers of one shared file, such as two stacks on a
#   director writing keepalived's state scripts, never rename each other's half-written copy), its
#   directory made first, with chmod MODE when one is given;
# - link_file PATH LINK: the symlink LINK to PATH (a unit enabled as systemctl enable does it).
write_file() {
	if ! { mkdir -p "${1%/*}" && printf '%s' "$2" >"$1.tmp.$$" && { [ -z "${3-}" ] || chmod "$3" "$1.tmp.$$"; } && mv "$1.tmp.$$" "$1"; }; then
		exit 1
	fi
}
link_file() {
	if ! { mkdir -p "${2%/*}" && ln -sf "$1" "$2"; }; then
		exit 1
	fi
}
