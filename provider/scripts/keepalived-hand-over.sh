#!/bin/sh
# The hand-over of one block of the site's keepalived configuration (a virtual_server or a
# vrrp_instance) to pulumi-lvs's files, with the host's lock held. keepalived is not touched here:
# the caller reloads it (same process) once this succeeds.
# 1. Lines START..END of SITE_FILE must still be the block as it was read (EXPECTED), else exit
#    $CHANGED and change nothing.
# 2. The main file gets pulumi-lvs's include line when it has none (appended, with a comment).
# 3. The block's lines are commented out where they are (each line prefixed with PREFIX: the other
#    lines keep their numbers), and pulumi-lvs's files are written (write_own_files, defined by
#    the caller).
# 4. `keepalived -t` checks the whole configuration, before the move and after. It rejects the
#    result when it fails afterwards with a complaint it did not make before, other than what
#    pulumi-lvs's own files always draw (KNOWN, an extended regular expression). Then everything is
#    put back as it was (the site's files from their copies, pulumi-lvs's files removed with remove_own_files)
#    and the script exits $REJECTED with keepalived's words.
# Set by the caller: SITE_FILE START END EXPECTED PREFIX MAIN_CONF INCLUDE_LINE CONF_DIR OWN_DIR
# NO_KEEPALIVED CHANGED REJECTED, and the functions write_own_files and remove_own_files.

command -v keepalived >/dev/null 2>&1 || exit "$NO_KEEPALIVED"
if [ "$(sed -n "${START},${END}p" "$SITE_FILE" 2>/dev/null)" != "$EXPECTED" ]; then
	echo "$SITE_FILE: lines $START to $END are no longer the block pulumi-lvs read (edited meanwhile?)" >&2
	exit "$CHANGED"
fi
mkdir -p "$CONF_DIR" "$OWN_DIR" || exit
COPY=.pulumi-lvs-hand-over
base=$(mktemp) && after=$(mktemp) || exit
trap 'rm -f "$base" "$after"' EXIT
keepalived -t -f "$MAIN_CONF" >"$base" 2>&1
# copies to put back (a hard failure between here and the end leaves them beside the files)
cp -p "$SITE_FILE" "$SITE_FILE$COPY" || exit
if [ "$MAIN_CONF" != "$SITE_FILE" ]; then cp -p "$MAIN_CONF" "$MAIN_CONF$COPY" || exit; fi
printf '%s\n' "$OWN_FILES" | while IFS= read -r f; do
	if [ -n "$f" ] && [ -e "$f" ]; then cp -p "$f" "$f$COPY" || exit; fi
done || exit

put_back() {
	printf '%s\n' "$OWN_FILES" | while IFS= read -r f; do
		[ -n "$f" ] || continue
		if [ -e "$f$COPY" ]; then mv -f "$f$COPY" "$f"; else rm -f "$f"; fi
	done
	mv -f "$SITE_FILE$COPY" "$SITE_FILE"
	if [ "$MAIN_CONF" != "$SITE_FILE" ]; then mv -f "$MAIN_CONF$COPY" "$MAIN_CONF"; fi
}

if ! grep -qxF "$INCLUDE_LINE" "$MAIN_CONF"; then
	printf '\n# added by pulumi-lvs, which took blocks of this configuration over: it reads them from here\n%s\n' \
		"$INCLUDE_LINE" >>"$MAIN_CONF" || {
		put_back
		exit 1
	}
fi
# (PREFIX holds no character that sed's replacement treats specially: no /, & or \)
sed -i "${START},${END}s/^/${PREFIX}/" "$SITE_FILE" || {
	put_back
	exit 1
}
(write_own_files) || {
	put_back
	exit 1
}
if ! keepalived -t -f "$MAIN_CONF" >"$after" 2>&1; then
	complaints=$(grep -vxF -f "$base" "$after" | grep -vE "$KNOWN")
	if [ -n "$complaints" ]; then
		put_back
		printf '%s\n' "$complaints" >&2
		exit "$REJECTED"
	fi
fi
rm -f "$SITE_FILE$COPY" "$MAIN_CONF$COPY"
printf '%s\n' "$OWN_FILES" | while IFS= read -r f; do
	if [ -n "$f" ]; then rm -f "$f$COPY"; fi
done
