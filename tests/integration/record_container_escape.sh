#!/bin/bash
# SPDX-License-Identifier: MIT
# A container cannot make kiln read a host file. Inside a mount namespace
# and chroot, an unprivileged process's debuglink ("prog.debug", with the
# CRC of the host file) and, after it exits, its own binary path are
# symlinks to an absolute host path: a root-only ELF whose function at the
# same address is named host_secret_marker. Resolved in the host's view,
# those links reach it; kiln resolves them inside the container's root (or
# requires the file to be the mapped inode), so the marker never appears.
source tests/integration/lib.sh
need_root
command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
SRC=tests/workloads/contained.c
CF="-static -O0 -g -fno-omit-frame-pointer -Wl,--build-id=none"
# The host's secret: the same program, its hot function renamed.
mkdir -m 700 "$TMP/secret"
gcc $CF -Dspin_here=host_secret_marker -o "$TMP/secret/secret.elf" "$SRC" || fail "cannot build the secret"
chmod 600 "$TMP/secret/secret.elf"
nm "$TMP/secret/secret.elf" >"$TMP/secret.nm"
grep -q host_secret_marker "$TMP/secret.nm" || fail "the secret has no marker"
# The container's root: binaries without symbols, a debuglink to prog.debug
# whose CRC is the secret's.
ROOT=$TMP/root
mkdir -p "$ROOT/app" "$ROOT/tmp"
chmod 1777 "$ROOT/app" "$ROOT/tmp"
gcc $CF -o "$TMP/prog.full" "$SRC" || fail "cannot build the workload"
cp "$TMP/secret/secret.elf" "$TMP/prog.debug"
objcopy --strip-all --add-gnu-debuglink="$TMP/prog.debug" "$TMP/prog.full" "$TMP/prog"
rm "$TMP/prog.debug"
SECRET=$TMP/secret/secret.elf
# Static, non-PIE, same code: the marker would land on the sampled address.
[ "$(nm "$TMP/prog.full" | awk '$3 == "spin_here" { print $1 }')" = \
  "$(nm "$SECRET" | awk '$3 == "host_secret_marker" { print $1 }')" ] || fail "the two builds differ in layout"

# In a mount namespace, as nobody in a chroot: N runs of SECS each; with a
# TARGET, each run's binary becomes a symlink to it as the process exits.
cat >"$TMP/container.sh" <<SH
for i in \$(seq "\$1"); do
	bin=prog\$2_\$i
	cp "$TMP/prog" "$ROOT/app/\$bin"
	chmod 755 "$ROOT/app/\$bin"
	chown nobody "$ROOT/app/\$bin"
	ln -sf "$SECRET" "$ROOT/app/prog.debug"
	chroot --userspec=nobody:nogroup "$ROOT" "/app/\$bin" "\$3" \${4:-} || true
done
SH
run_container() {
	unshare --mount --propagation private sh "$TMP/container.sh" "$@" >>"$TMP/container.log" 2>&1
}
# A long-lived process (debuglink attack while it lives) and short ones that
# turn their binary into a link to the secret as they exit.
run_container 1 a 5 &
CLEANUP_PIDS+=("$!")
run_container 40 b 0.05 "$SECRET" &
CLEANUP_PIDS+=("$!")
sleep 0.3
"$KILN" record --frequency 499 --duration 4 --user-only -o "$TMP/out.folded" 2>"$TMP/err"
cat "$TMP/err"
tail -3 "$TMP/container.log" 2>/dev/null || true
wait
grep -E '^prog[ab]_[0-9]+;' "$TMP/out.folded" | head -5 || true
n=$({ grep -E '^prog[ab]_[0-9]+;' "$TMP/out.folded" || true; } | awk '{ t += $NF } END { print t + 0 }')
echo "$n samples of the contained processes"
[ "$n" -ge 100 ] || fail "expected samples of the contained processes, got $n"
! grep -q host_secret_marker "$TMP/out.folded" || fail "kiln read the host file: $(grep -c host_secret_marker "$TMP/out.folded") stacks name host_secret_marker"
[ -L "$ROOT/app/progb_2" ] || fail "the exiting processes did not leave their symlinks"
exit 0
