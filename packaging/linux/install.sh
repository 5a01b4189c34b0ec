#!/bin/sh
# Installs the vfxcopy app from this unpacked tarball for the current user (no root, no Python needed):
#   the app folder     -> ~/.local/opt/vfxcopy
#   the launcher entry -> ~/.local/share/applications/vfxcopy.desktop
#   the icon           -> ~/.local/share/icons/hicolor/scalable/apps/vfxcopy.svg
#   the command        -> ~/.local/bin/vfxcopy (a link, unless a different vfxcopy is there)
# Usage: ./install.sh [--uninstall]; the installed copy has ~/.local/opt/vfxcopy/uninstall.sh.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
MODE=install
if [ "${1:-}" = "--uninstall" ]; then
    MODE=uninstall
    PREFIX=${VFXCOPY_PREFIX:-$HOME/.local}
elif [ "$(basename "$0")" = "uninstall.sh" ]; then
    # The copy left in <prefix>/opt/vfxcopy: remove the install it sits in, wherever that was.
    MODE=uninstall
    PREFIX=$(dirname "$(dirname "$HERE")")
else
    PREFIX=${VFXCOPY_PREFIX:-$HOME/.local}
fi
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
APP_DIR=$PREFIX/opt/vfxcopy
BIN_LINK=$PREFIX/bin/vfxcopy
DESKTOP=$DATA/applications/vfxcopy.desktop
ICON=$DATA/icons/hicolor/scalable/apps/vfxcopy.svg

refresh_caches() {
    # Launchers pick up new entries by themselves; these only make it immediate where the tools exist.
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$DATA/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$DATA/icons/hicolor" 2>/dev/null || true
    fi
}

if [ "$MODE" = uninstall ]; then
    rm -rf "$APP_DIR"
    rm -f "$DESKTOP" "$ICON"
    if [ -L "$BIN_LINK" ] && [ "$(readlink "$BIN_LINK")" = "$APP_DIR/vfxcopy" ]; then
        rm -f "$BIN_LINK"
    fi
    refresh_caches
    echo "vfxcopy removed"
    exit 0
fi

if [ ! -x "$HERE/vfxcopy/vfxcopy" ]; then
    echo "install.sh: $HERE/vfxcopy/vfxcopy not found; run me from the unpacked tarball" >&2
    exit 2
fi

# Copy next to the old version first, then swap, so a failed copy leaves the old install working.
mkdir -p "$PREFIX/opt"
rm -rf "$APP_DIR.new"
cp -R "$HERE/vfxcopy" "$APP_DIR.new"
cp "$0" "$APP_DIR.new/uninstall.sh"
chmod 755 "$APP_DIR.new/uninstall.sh"
rm -rf "$APP_DIR"
mv "$APP_DIR.new" "$APP_DIR"

# .desktop files do not search ~/.local/bin reliably, so point Exec at the installed executable.
mkdir -p "$(dirname "$DESKTOP")" "$(dirname "$ICON")"
sed -e "s|^Exec=vfxcopy|Exec=\"$APP_DIR/vfxcopy\"|" \
    -e "s|^TryExec=vfxcopy\$|TryExec=$APP_DIR/vfxcopy|" \
    "$HERE/vfxcopy.desktop" > "$DESKTOP.tmp"
mv "$DESKTOP.tmp" "$DESKTOP"
cp "$HERE/vfxcopy.svg" "$ICON"

mkdir -p "$PREFIX/bin"
if [ -L "$BIN_LINK" ] || [ ! -e "$BIN_LINK" ]; then
    ln -sfn "$APP_DIR/vfxcopy" "$BIN_LINK"
else
    echo "note: $BIN_LINK exists and is not ours; left alone (run $APP_DIR/vfxcopy directly)"
fi

refresh_caches
echo "vfxcopy $("$APP_DIR/vfxcopy" --version | sed 's/^vfxcopy //') installed in $APP_DIR"
echo "launcher: $DESKTOP"
echo "command:  $BIN_LINK"
