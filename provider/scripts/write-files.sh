#!/bin/sh
# Functions that write the files pulumi-lvs owns on a host; each exits 1 when a step fails:
# - write_file PATH CONTENT [MODE]: writes CONTENT to PATH atomically (a temporary copy named by
#   this shell's own pid, $$, then renamed: two writers of one shared file, such as two stacks on a
#   director writing keepalived's state scripts, never rename each other's half-written copy), its
#   directory made first, with chmod MODE when one is given;
# - link_file PATH LINK: the symlink LINK to PATH (a unit enabled as systemctl enable does it),
#   made under a temporary name of this shell's own and renamed over LINK, as write_file does (GNU
#   ln -sf over an existing link goes through a random name of its own, CuXXXXXX, that a power cut
#   leaves behind where no removal of LINK's temporaries finds it).
write_file() {
	if ! { mkdir -p "${1%/*}" && printf '%s' "$2" >"$1.tmp.$$" && { [ -z "${3-}" ] || chmod "$3" "$1.tmp.$$"; } && mv "$1.tmp.$$" "$1"; }; then
		exit 1
	fi
}
link_file() {
	if ! { mkdir -p "${2%/*}" && rm -f "$2.tmp.$$" && ln -s "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"; }; then
		exit 1
	fi
}
