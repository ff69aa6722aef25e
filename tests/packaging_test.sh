#!/bin/bash
# TAP test: the Debian package builds (dpkg-buildpackage -us -uc -b in a
# scratch copy), holds the right files and dependencies, passes lintian,
# installs for real (dpkg -i) and the installed drop-in and plugin pass
# collectd -T; a source install (configure --prefix=/usr --sysconfdir=/etc,
# make install DESTDIR=...) installs the plugin and the drop-in, never over
# an existing one; the RPM is built with rpmbuild against collectd's
# upstream source tree (Debian's collectd orig tarball, fetched through a
# private apt configuration), and its file list, requires, provides and
# scriptlets are checked, and its plugin passes collectd -T.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/nfs-ebpf-packaging-test.XXXXXX)
cpid=
trap '[ -n "$cpid" ] && kill "$cpid" 2>/dev/null; wait; rm -rf "$tmp"' EXIT
n=0
check() { # TEXT CMD...  (ok when CMD succeeds)
	local text=$1
	shift
	n=$((n + 1))
	if "$@" >"$tmp/check.out" 2>&1; then
		echo "ok $n - $text"
	else
		echo "not ok $n - $text"
		tail -20 "$tmp/check.out" | sed 's/^/# /'
	fi
}

# --- RPM ---------------------------------------------------------------------------
# Fedora/EPEL ship no collectd plugin headers, so the spec builds against
# collectd's source tree. Debian's collectd source package holds that
# upstream tree (its orig tarball, a snapshot of the collectd-5.12.0 tag):
# fetch it with a private apt configuration whose deb-src line points at
# the Debian archive this machine already uses (never named here).
fetch_collectd_source() { # DIR: downloads (once) and prints the orig tarball's path
	local dir=$1 sources=${NFS_EBPF_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}
	local main suite dsc orig sum
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/etc" "$dir/src"
	main=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$sources" 2>/dev/null | grep -v security | head -1)
	[ -n "$main" ] || main=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	[ -n "$main" ] || { echo "no Debian archive URI in $sources or /etc/apt/sources.list" >&2; return 1; }
	suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $main $suite main" >"$dir/etc/sources.list"
	local opts=(-o "Dir::Etc::SourceList=$dir/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Dir::State::status=/dev/null
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root)
	# the source index is refreshed at most once a day
	if [ ! -f "$dir/updated" ] || [ -n "$(find "$dir/updated" -mmin +1440)" ]; then
		apt-get "${opts[@]}" -q update >&2 || return 1
		touch "$dir/updated"
	fi
	# apt verifies each file against the signed index. Only the orig
	# tarball is needed (Debian's packaging of collectd is not), so a
	# missing debian.tar.xz on the mirror does not matter.
	(cd "$dir/src" && apt-get "${opts[@]}" -q source --download-only collectd >&2)
	dsc=$(ls -v "$dir"/src/collectd_*.dsc 2>/dev/null | tail -1)
	[ -n "$dsc" ] || { echo "apt-get source collectd fetched no .dsc" >&2; return 1; }
	orig=$(awk '/^Checksums-Sha256:/ {f=1; next} /^[^ ]/ {f=0} f && $3 ~ /\.orig\.tar\./ {print $3}' "$dsc")
	sum=$(awk -v o="$orig" '/^Checksums-Sha256:/ {f=1; next} /^[^ ]/ {f=0} f && $3 == o {print $1}' "$dsc")
	[ -n "$orig" ] && echo "$sum  $dir/src/$orig" | sha256sum -c --quiet - >&2 ||
		{ echo "no verified orig tarball for $dsc" >&2; return 1; }
	echo "$dir/src/$orig"
}

# The RPM build needs nothing from the Debian one (each builds in its own
# copy of the sources), so it runs beside the Debian package's checks; its
# own checks come after them, in order.
rpm_build() {
	local start
	exec 9>/run/lock/nfs-ebpf-collectd-source.lock
	flock 9
	fetch_collectd_source "${NFS_EBPF_SRC_CACHE:-/var/cache/nfs_ebpf-src}" >"$tmp/collectd_tarball" 2>"$tmp/fetch.log"
	flock -u 9
	start=$(date +%s)
	[ -s "$tmp/collectd_tarball" ] || { echo "no collectd tarball" >"$tmp/rpmbuild.log"; echo 1 >"$tmp/rpmbuild.rc"; echo 0 >"$tmp/rpmbuild.took"; return; }
	RPMBUILD_OPTS=--nodeps "$here/packaging/rpm/build.sh" "$(cat "$tmp/collectd_tarball")" "$tmp/rpm" \
		>"$tmp/rpmbuild.log" 2>&1
	echo $? >"$tmp/rpmbuild.rc"
	echo $(($(date +%s) - start)) >"$tmp/rpmbuild.took"
}
rpm_build &
rpm_job=$!

# --- Debian package -----------------------------------------------------------
start=$(date +%s)
check "dpkg-buildpackage -us -uc -b builds collectd-nfs-ebpf (packaging/deb/build.sh)" \
	bash -c "'$here/packaging/deb/build.sh' '$tmp/deb' >'$tmp/build.log' 2>&1 || { tail -40 '$tmp/build.log'; exit 1; }"
echo "# deb build took $(($(date +%s) - start)) s"
deb=$(ls "$tmp"/deb/collectd-nfs-ebpf_*.deb 2>/dev/null | grep -v dbgsym | head -1)
[ -n "$deb" ] || deb=$tmp/deb/missing.deb
dpkg -c "$deb" >"$tmp/contents" 2>&1
dpkg-deb -f "$deb" Depends >"$tmp/depends" 2>&1
dpkg-deb -e "$deb" "$tmp/control" >/dev/null 2>&1
sed 's/^/# /' "$tmp/contents"
echo "# Depends: $(cat "$tmp/depends")"

files() { awk '$1 !~ /^d/ {print $6}' "$tmp/contents" | sort; }
files >"$tmp/files"
check "dpkg -c: plugin at /usr/lib/collectd/nfs_ebpf.so" grep -qx './usr/lib/collectd/nfs_ebpf.so' <(files)
check "dpkg -c: drop-in at /etc/collectd/collectd.conf.d/nfs_ebpf.conf" \
	grep -qx './etc/collectd/collectd.conf.d/nfs_ebpf.conf' <(files)
check "dpkg -c: nfs-ebpf-top and its manual page" \
	bash -c "grep -qx './usr/bin/nfs-ebpf-top' '$tmp/files' && grep -qx './usr/share/man/man1/nfs-ebpf-top.1.gz' '$tmp/files'"
check "dpkg -c: the bucket type for receiving collectds at /usr/share/collectd/nfs_ebpf-types.db" \
	grep -qx './usr/share/collectd/nfs_ebpf-types.db' <(files)
check "dpkg -c: no libtool archive, no other library, nothing outside /etc/collectd and /usr" \
	bash -c "! grep -Ev '^\\./(usr/lib/collectd/nfs_ebpf\\.so|etc/collectd/collectd\\.conf\\.d/nfs_ebpf\\.conf|usr/bin/nfs-ebpf-top|usr/share/man/man1/nfs-ebpf-top\\.1\\.gz|usr/share/collectd/nfs_ebpf-types\\.db|usr/share/doc/collectd-nfs-ebpf/.*)\$' '$tmp/files'"
check "Depends has collectd-core" grep -Eq '(^|, )collectd-core($|,| )' "$tmp/depends"
check "Depends has libbpf1 and libyajl2 from shlibs" bash -c "grep -q 'libbpf1 ' '$tmp/depends' && grep -q 'libyajl2 ' '$tmp/depends'"
check "drop-in is a conffile" grep -qx '/etc/collectd/collectd.conf.d/nfs_ebpf.conf' "$tmp/control/conffiles"

dpkg -x "$deb" "$tmp/root" >/dev/null 2>&1
so=$tmp/root/usr/lib/collectd/nfs_ebpf.so
check "packaged plugin exports only module_register" \
	bash -c "[ \"\$(nm -D --defined-only '$so' | awk '\$2 ~ /^[TDBRW]\$/ {print \$3}')\" = module_register ]"
check "packaged drop-in has no TypesDB line" bash -c "! grep -Eiq '^[[:space:]]*TypesDB' '$tmp/root/etc/collectd/collectd.conf.d/nfs_ebpf.conf'"

# lintian, with any overrides the package carries (debian/*.lintian-overrides,
# each with its reason; none is needed today): no error or warning may remain.
lintian --fail-on error,warning --display-info --show-overrides "$deb" >"$tmp/lintian.log" 2>&1
lrc=$?
sed 's/^/# lintian: /' "$tmp/lintian.log"
check "lintian: no error or warning (overrides carry their reason)" \
	bash -c "[ $lrc -eq 0 ] && ! grep -Eq '^[EW]: ' '$tmp/lintian.log'"

# The real daemon loads a plugin with its drop-in (collectd -T: load,
# configure, init, one read; it logs to stderr when no log plugin is
# loaded). On this kernel without NFS, init still succeeds and waits for
# the nfs module.
collectd_T() { # WHAT PLUGINDIR DROPIN
	local what=$1 dir=$2 dropin=$3 log=$tmp/collectd-$1.log rc
	cat >"$tmp/collectd-$what.conf" <<-C
		Hostname "pkgtest"
		FQDNLookup false
		PluginDir "$dir"
		BaseDir "$tmp"
		TypesDB "/usr/share/collectd/types.db"
		Include "$dropin"
	C
	timeout 120 collectd -T -C "$tmp/collectd-$what.conf" >"$log" 2>&1
	rc=$?
	sed "s/^/# collectd ($what): /" "$log" | head -20
	check "$what: collectd dlopen()s the plugin (no unresolved symbol)" \
		grep -q 'plugin "nfs_ebpf" successfully loaded' "$log"
	check "$what: collectd -T with the drop-in exits 0: every option accepted" \
		bash -c "[ $rc -eq 0 ] && ! grep -q 'Parsing the config file failed' '$log'"
	check "$what: the plugin's init succeeded with the drop-in's defaults (\"nfs_ebpf plugin: ready\")" \
		grep -q 'nfs_ebpf plugin: ready' "$log"
}
collectd_T deb-contents "$tmp/root/usr/lib/collectd" "$tmp/root/etc/collectd/collectd.conf.d/nfs_ebpf.conf"
# negative control: the same check rejects a broken option
sed 's/^\([[:space:]]*AttachMode\) "auto"/\1 "bogus"/' "$tmp/root/etc/collectd/collectd.conf.d/nfs_ebpf.conf" >"$tmp/bad.conf"
sed "s|^Include .*|Include \"$tmp/bad.conf\"|" "$tmp/collectd-deb-contents.conf" >"$tmp/collectd-bad.conf"
timeout 120 collectd -T -C "$tmp/collectd-bad.conf" >"$tmp/collectd-bad.log" 2>&1
brc=$?
check "negative control: AttachMode \"bogus\" makes collectd -T fail" \
	bash -c "[ $brc -ne 0 ] && grep -q 'AttachMode' '$tmp/collectd-bad.log'"

# Installed for real: dpkg -i registers the drop-in as a conffile, collectd
# -T accepts the installed configuration, remove keeps the (conf)file,
# purge deletes it. Serialised with other runs of this test on the machine
# (flock), and refused when the package was installed before the test.
pkg=collectd-nfs-ebpf
conf=/etc/collectd/collectd.conf.d/nfs_ebpf.conf
dpkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
exec 9>/run/lock/nfs-ebpf-packaging-test.lock
flock 9
if dpkg_installed "$pkg"; then
	n=$((n + 1))
	echo "not ok $n - $pkg is already installed on this machine: dpkg -P $pkg, then rerun"
else
	check "dpkg -i installs the package (its dependencies are installed)" dpkg -i "$deb"
	check "dpkg registers the drop-in as a conffile" \
		bash -c "dpkg-query -W -f='\${Conffiles}\\n' $pkg | grep -q '^ $conf '"
	collectd_T deb-installed /usr/lib/collectd "$conf"
	check "dpkg -r removes the plugin and keeps the conffile" \
		bash -c "dpkg -r $pkg && [ ! -e /usr/lib/collectd/nfs_ebpf.so ] && [ -f $conf ]"
	check "dpkg -P deletes the conffile" bash -c "dpkg -P $pkg && [ ! -e $conf ]"
	dpkg_installed "$pkg" && dpkg -P "$pkg" >/dev/null 2>&1
fi
flock -u 9

# --- source install --------------------------------------------------------------
# What the README says for a source install, into DESTDIR: the plugin (no
# libtool archive) and the drop-in where Debian's collectd reads drop-ins;
# an existing drop-in is left alone, and uninstall removes it only when
# unchanged.
mkdir -p "$tmp/srcbuild"
"$here/packaging/copy-sources.sh" "$tmp/srcbuild"
check "source: ./configure --prefix=/usr --sysconfdir=/etc && make" bash -c "
	cd '$tmp/srcbuild' && ./autogen.sh >'$tmp/srcbuild.log' 2>&1 &&
	./configure --prefix=/usr --sysconfdir=/etc >>'$tmp/srcbuild.log' 2>&1 &&
	make -j\$(nproc) >>'$tmp/srcbuild.log' 2>&1 || { tail -30 '$tmp/srcbuild.log'; exit 1; }"
dropin=$here/collectd.conf.d/nfs_ebpf.conf
fresh=$tmp/dest-fresh
# What a source install puts under the prefix besides the drop-in.
installed="./usr/bin/nfs-ebpf-top ./usr/lib/collectd/nfs_ebpf.so ./usr/share/collectd/nfs_ebpf-types.db ./usr/share/man/man1/nfs-ebpf-top.1"
check "source: make install DESTDIR (fresh) installs the plugin, nfs-ebpf-top with its manual, the drop-in, and nothing else" bash -c "
	make -C '$tmp/srcbuild' install DESTDIR='$fresh' >'$tmp/install-fresh.log' 2>&1 || { tail '$tmp/install-fresh.log'; exit 1; }
	cd '$fresh' && find . ! -type d | sort >'$tmp/fresh.files'; cat '$tmp/fresh.files'
	printf '%s\n' ./etc/collectd/collectd.conf.d/nfs_ebpf.conf $installed | diff - '$tmp/fresh.files' &&
	cmp '$dropin' '$fresh/etc/collectd/collectd.conf.d/nfs_ebpf.conf'"
collectd_T source-install "$fresh/usr/lib/collectd" "$fresh/etc/collectd/collectd.conf.d/nfs_ebpf.conf"
kept=$tmp/dest-kept
check "source: make install DESTDIR with an existing drop-in leaves it alone" bash -c "
	mkdir -p '$kept/etc/collectd/collectd.conf.d' &&
	printf 'LoadPlugin nfs_ebpf\n# the operator'\''s own\n' >'$kept/etc/collectd/collectd.conf.d/nfs_ebpf.conf' &&
	cp -p '$kept/etc/collectd/collectd.conf.d/nfs_ebpf.conf' '$tmp/own.conf' &&
	make -C '$tmp/srcbuild' install DESTDIR='$kept' >'$tmp/install-kept.log' 2>&1 &&
	cat '$tmp/install-kept.log' | grep -i 'keeping' &&
	cmp '$tmp/own.conf' '$kept/etc/collectd/collectd.conf.d/nfs_ebpf.conf' &&
	[ -f '$kept/usr/lib/collectd/nfs_ebpf.so' ]"
check "source: make uninstall removes the unchanged drop-in, keeps a changed one" bash -c "
	make -C '$tmp/srcbuild' uninstall DESTDIR='$fresh' >/dev/null 2>&1 &&
	make -C '$tmp/srcbuild' uninstall DESTDIR='$kept' >/dev/null 2>&1 &&
	[ -z \"\$(find '$fresh' ! -type d)\" ] && [ \"\$(cd '$kept' && find . ! -type d)\" = ./etc/collectd/collectd.conf.d/nfs_ebpf.conf ]"
check "source: configure --with-collectd-confdir picks the RPM layout, =no installs no drop-in" bash -c "
	cd '$tmp/srcbuild' &&
	./configure --prefix=/usr --sysconfdir=/etc --with-collectd-confdir=/etc/collectd.d >'$tmp/conf-rpm.log' 2>&1 &&
	make install DESTDIR='$tmp/dest-rpm' >>'$tmp/conf-rpm.log' 2>&1 &&
	cmp '$dropin' '$tmp/dest-rpm/etc/collectd.d/nfs_ebpf.conf' &&
	./configure --prefix=/usr --sysconfdir=/etc --without-collectd-confdir >'$tmp/conf-no.log' 2>&1 &&
	make install DESTDIR='$tmp/dest-no' >>'$tmp/conf-no.log' 2>&1 &&
	[ \"\$(cd '$tmp/dest-no' && find . ! -type d | sort | tr '\\n' ' ')\" = '$installed ' ] || { tail '$tmp/conf-rpm.log' '$tmp/conf-no.log'; exit 1; }"
check "configure --with-collectd-src=DIR without a configured tree fails with a clear error" bash -c "
	cd '$tmp/srcbuild' && mkdir -p '$tmp/empty/src/daemon' && touch '$tmp/empty/src/daemon/plugin.h' &&
	! ./configure --with-collectd-src='$tmp/empty' >'$tmp/neg.log' 2>&1 &&
	grep -q 'src/config.h missing' '$tmp/neg.log'"

# --- RPM (the job started above) -------------------------------------------------
wait "$rpm_job"
collectd_tarball=$(cat "$tmp/collectd_tarball")
check "collectd's upstream source fetched from Debian's collectd source package ($(basename "${collectd_tarball:-none}"))" \
	bash -c "[ -f '$collectd_tarball' ] || { cat '$tmp/fetch.log'; exit 1; }"
spec=$here/packaging/rpm/collectd-nfs-ebpf.spec
check "RPM BuildRequires the tool chain, libbpf >= 1.0, libelf, zlib, yajl, and flex/bison for collectd's tree" bash -c "
	r=\$(rpmspec -q --buildrequires '$spec')
	for w in 'pkgconfig(libbpf) >= 1.0' 'pkgconfig(libelf)' 'pkgconfig(zlib)' 'pkgconfig(yajl)' clang llvm bpftool flex bison collectd; do
		grep -qxF \"\$w\" <<<\"\$r\" || { echo missing \$w; exit 1; }
	done"
check "rpmbuild -bb (--nodeps: Debian's libbpf, libelf, zlib, yajl) builds collectd-nfs-ebpf (packaging/rpm/build.sh)" \
	bash -c "[ \"\$(cat '$tmp/rpmbuild.rc')\" = 0 ] || { tail -40 '$tmp/rpmbuild.log'; exit 1; }"
echo "# rpm build took $(cat "$tmp/rpmbuild.took") s (beside the Debian package's checks)"
rpm=$(ls "$tmp"/rpm/collectd-nfs-ebpf-[0-9]*.rpm 2>/dev/null | head -1)
[ -n "$rpm" ] || rpm=$tmp/rpm/missing.rpm
grep -E '^(checking whether collectd|  collectd headers|PASS|FAIL|# (TOTAL|PASS|FAIL))' "$tmp/rpmbuild.log" | sed 's/^/# rpmbuild: /'
rpm -qlp "$rpm" >"$tmp/rpm.files" 2>&1
rpm -qp --requires "$rpm" >"$tmp/rpm.requires" 2>&1
rpm -qp --provides "$rpm" >"$tmp/rpm.provides" 2>&1
rpm -qp --scripts "$rpm" >"$tmp/rpm.scripts" 2>&1
rpm -qpc "$rpm" >"$tmp/rpm.config" 2>&1
for f in files requires provides scripts config; do sed "s/^/# rpm $f: /" "$tmp/rpm.$f"; done
check "rpmbuild ran the unit tests against the upstream headers (%check)" \
	bash -c "grep -q 'NFS_EBPF_COLLECTD_SOURCE_TREE' '$tmp/rpmbuild.log' && grep -Eq '^# PASS: +[1-9]' '$tmp/rpmbuild.log' && grep -Eq '^# FAIL: +0' '$tmp/rpmbuild.log'"
# rpm -qlp also lists directories; the license directory is NAME on Fedora
# and NAME-VERSION with Debian's rpm; /usr/lib/.build-id holds rpm's
# build-id links.
check "rpm -qlp: the plugin in /usr/lib64/collectd, the drop-in in /etc/collectd.d, nfs-ebpf-top and its manual, the bucket type's types.db, the license, the scrape config, nothing else" bash -c "
	for f in /etc/collectd.d/nfs_ebpf.conf /usr/lib64/collectd/nfs_ebpf.so /usr/bin/nfs-ebpf-top /usr/share/collectd/nfs_ebpf-types.db /usr/share/doc/collectd-nfs-ebpf/prometheus/scrape-config.yml; do
		grep -qxF \$f '$tmp/rpm.files' || { echo missing \$f; exit 1; }
	done
	grep -Eq '^/usr/share/licenses/collectd-nfs-ebpf(-[0-9.]+)?/LICENSE\$' '$tmp/rpm.files' || { echo missing LICENSE; exit 1; }
	grep -Eq '^/usr/share/man/man1/nfs-ebpf-top\.1(\.gz)?\$' '$tmp/rpm.files' || { echo missing the manual page; exit 1; }
	! grep -Ev '^(/etc/collectd\.d/nfs_ebpf\.conf|/usr/lib64/collectd/nfs_ebpf\.so|/usr/bin/nfs-ebpf-top|/usr/share/man/man1/nfs-ebpf-top\.1(\.gz)?|/usr/share/collectd/nfs_ebpf-types\.db|/usr/share/doc/collectd-nfs-ebpf(/prometheus(/scrape-config\.yml)?)?|/usr/share/licenses/collectd-nfs-ebpf(-[0-9.]+)?(/LICENSE)?|/usr/lib/\.build-id(/.*)?)\$' '$tmp/rpm.files'"
check "rpm -qpc: the drop-in is %config" grep -qx /etc/collectd.d/nfs_ebpf.conf "$tmp/rpm.config"
check "rpm --requires: collectd 5.x (>= 5.12.0, < 6) of the same arch" \
	grep -qxF '(collectd(x86-64) >= 5.12.0 with collectd(x86-64) < 6)' "$tmp/rpm.requires"
check "rpm --requires: the sonames the plugin links (libbpf.so.1, i.e. libbpf >= 1.0; libyajl.so.2)" bash -c "
	for so in libbpf.so.1 libyajl.so.2; do grep -q \"^\$so()(64bit)\" '$tmp/rpm.requires' || { echo missing \$so; exit 1; }; done"
check "rpm --provides: the plugin provides no soname" bash -c "! grep -q 'nfs_ebpf' '$tmp/rpm.provides'"
check "rpm --scripts: no scriptlets (nothing restarts the operator's collectd)" bash -c "[ ! -s '$tmp/rpm.scripts' ]"
mkdir -p "$tmp/rpmroot"
(cd "$tmp/rpmroot" && rpm2cpio "$rpm" | cpio -idm --quiet) >/dev/null 2>&1
collectd_T rpm-contents "$tmp/rpmroot/usr/lib64/collectd" "$tmp/rpmroot/etc/collectd.d/nfs_ebpf.conf"

echo "1..$n"
