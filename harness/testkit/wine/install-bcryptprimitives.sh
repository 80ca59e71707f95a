#!/bin/sh
# Builds the bcryptprimitives.dll stand-in (bcryptprimitives.c) with mingw-w64
# and installs it into the Wine prefix, when that Wine has no
# bcryptprimitives.dll of its own (Wine 8 and older). Rust programs built for
# x86_64-pc-windows-gnu, such as certmig.exe, need it to start.
#
#   harness/testkit/wine/install-bcryptprimitives.sh     # prefix: $WINEPREFIX or ~/.wine
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${WINEPREFIX:-$HOME/.wine}
system32=$prefix/drive_c/windows/system32
if [ ! -d "$system32" ]; then
    # Create the prefix.
    WINEDEBUG=-all wine cmd /c exit >/dev/null 2>&1 || true
fi
if [ -e "$system32/bcryptprimitives.dll" ]; then
    echo "bcryptprimitives.dll already in $system32"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
x86_64-w64-mingw32-gcc -O2 -shared -o "$tmp/bcryptprimitives.dll" \
    "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
cp "$tmp/bcryptprimitives.dll" "$system32/bcryptprimitives.dll"
echo "installed $system32/bcryptprimitives.dll"
