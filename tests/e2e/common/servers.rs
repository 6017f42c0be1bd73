//! Real servers for the replay tests: Debian's own nginx and redis builds (the
//! packages `nginx`, `redis-tools`, `libjemalloc2`, `liblzf1`, fetched with
//! `apt-get download` and unpacked with `dpkg-deb -x`: nothing is installed on the
//! host, no maintainer script runs) in a rootfs with the static busybox as shell and
//! HTTP client, and the host's copies of the shared libraries they link (found with
//! `ldd`). Built once into `target/tmp/servers-rootfs` and reused; each test works on a
//! copy.
//!
//! Each server is driven by a script in the rootfs (`/srv/nginx.sh PORT`,
//! `/srv/redis.sh PORT`) that starts it, talks to it with real clients over loopback
//! (busybox wget; redis-cli and redis-benchmark), stops it the way an orchestrator
//! does (SIGQUIT for nginx, `SHUTDOWN` for redis) and prints `nginx-ok` / `redis-ok`
//! only when every answer was right.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::podman::{make_busybox_rootfs, required_static_busybox};
use super::{in_ci, prerequisite, stderr};

/// The Debian packages unpacked into the rootfs.
const PACKAGES: [&str; 4] = ["nginx", "redis-tools", "libjemalloc2", "liblzf1"];

/// The ELF programs whose libraries are copied in.
const PROGRAMS: [&str; 4] = [
    "usr/sbin/nginx",
    "usr/bin/redis-check-rdb",
    "usr/bin/redis-cli",
    "usr/bin/redis-benchmark",
];

/// What nginx serves: a small page and a 1 MiB file (sendfile).
pub const PAGE: &str = "served-by-nginx\n";

/// `/srv/nginx.sh PORT`: nginx (master as root, two workers as www-data, sendfile),
/// HTTP/1.0 requests by busybox nc (20 for the page, 9 for the big file), graceful
/// stop. Not busybox wget: it calls `poll` only when an answer is not there yet, so a
/// recording has it or not by timing (seen: 2 recordings of 3).
const NGINX_SH: &str = r#"#!/bin/sh
set -e
port=$1
cat > /tmp/nginx.conf <<EOF
user www-data;
worker_processes 2;
pid /tmp/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    server {
        listen 127.0.0.1:$port;
        root /srv/www;
    }
}
EOF
/usr/sbin/nginx -c /tmp/nginx.conf -g 'daemon off;' &
server=$!
get() { printf 'GET /%s HTTP/1.0\r\n\r\n' "$1" | nc 127.0.0.1 $port; }
i=0
until get index.html 2>/dev/null | grep -q '^served-by-nginx$'; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "nginx never answered"; exit 1; }
    sleep 0.05
done
for i in $(seq 20); do
    get index.html | grep -q '^served-by-nginx$'
done
for i in 1 2 3; do
    get big | grep -q '^Content-Length: 1048576'
    [ "$(get big | tail -c 1048576 | tr -d x | wc -c)" -eq 0 ]
    [ "$(get big | wc -c)" -gt 1048576 ]
done
kill -QUIT $server
wait $server
echo nginx-ok
"#;

/// `/srv/redis.sh PORT`: redis-server without persistence, redis-cli commands with
/// checked answers, a short redis-benchmark (4 clients), `SHUTDOWN NOSAVE`.
const REDIS_SH: &str = r#"#!/bin/sh
set -e
port=$1
cli() { /usr/bin/redis-cli -p $port "$@"; }
/usr/bin/redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no \
    --protected-mode no --daemonize no --dir /tmp --loglevel warning &
server=$!
i=0
until [ "$(cli ping 2>/dev/null)" = PONG ]; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "redis never answered"; exit 1; }
    sleep 0.05
done
[ "$(cli set greeting hello)" = OK ]
[ "$(cli get greeting)" = hello ]
cli incr visits >/dev/null; cli incr visits >/dev/null
[ "$(cli incr visits)" = 3 ]
cli rpush queue a b c >/dev/null
[ "$(cli lrange queue 0 -1 | tr '\n' ' ')" = "a b c " ]
/usr/bin/redis-benchmark -p $port -q -n 2000 -c 4 -t set,get,incr,lpush >/dev/null
cli shutdown nosave >/dev/null 2>&1 || true
wait $server || true
echo redis-ok
"#;

/// A prepared rootfs (the cached original; use [`copy_to`](Self::copy_to)).
pub struct ServersRootfs {
    dir: PathBuf,
}

static ROOTFS: OnceLock<Option<ServersRootfs>> = OnceLock::new();

impl ServersRootfs {
    /// The rootfs, built on first use (apt-get download needs the package lists:
    /// `apt-get update`, which `cargo xtask setup` runs). `None`: skipped outside CI.
    pub fn get() -> Option<&'static ServersRootfs> {
        ROOTFS
            .get_or_init(|| {
                let busybox = required_static_busybox()?;
                if !prerequisite(
                    super::have("apt-get") && super::have("dpkg-deb") && super::have("ldd"),
                    "apt-get, dpkg-deb and ldd (Debian)",
                ) {
                    return None;
                }
                let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("servers-rootfs");
                if !dir.join(".complete").exists() {
                    match build(&dir, &busybox) {
                        Ok(()) => {}
                        Err(e) if !in_ci() => {
                            prerequisite(false, &e);
                            return None;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                Some(ServersRootfs { dir })
            })
            .as_ref()
    }

    /// A private copy below `parent` (the servers write pid files, configs and temp
    /// dirs into their rootfs); returns its path.
    pub fn copy_to(&self, parent: &Path) -> PathBuf {
        let to = parent.join("servers-rootfs");
        let o = Command::new("cp")
            .arg("-a")
            .arg(&self.dir)
            .arg(&to)
            .output()
            .expect("cp");
        assert!(o.status.success(), "cp -a rootfs: {}", stderr(&o));
        write_scripts(&to).expect("write the scripts");
        to
    }
}

/// Builds the rootfs into `dir` (through a sibling temp dir renamed at the end, so that
/// an interrupted build is never taken for a complete one).
fn build(dir: &Path, busybox: &Path) -> Result<(), String> {
    let parent = dir.parent().expect("parent");
    fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let work = tempfile::Builder::new()
        .prefix("servers-rootfs-")
        .tempdir_in(parent)
        .map_err(|e| e.to_string())?;
    let debs = work.path().join("debs");
    let root = work.path().join("root");
    fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
    let o = Command::new("apt-get")
        .args(["-q", "-o", "APT::Sandbox::User=root", "download"])
        .args(PACKAGES)
        .current_dir(&debs)
        .output()
        .map_err(|e| format!("apt-get: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "apt-get download {} failed (run `apt-get update`, as `cargo xtask setup` does): {}",
            PACKAGES.join(" "),
            stderr(&o).trim()
        ));
    }
    make_busybox_rootfs(&root, busybox);
    for deb in fs::read_dir(&debs).map_err(|e| e.to_string())? {
        let deb = deb.map_err(|e| e.to_string())?.path();
        let o = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(&root)
            .output()
            .map_err(|e| format!("dpkg-deb: {e}"))?;
        if !o.status.success() {
            return Err(format!("dpkg-deb -x {}: {}", deb.display(), stderr(&o)));
        }
    }
    // redis-server is the same multi-call program (the `redis-server` package only
    // adds this link and the service files).
    symlink("redis-check-rdb", root.join("usr/bin/redis-server")).map_err(|e| e.to_string())?;
    copy_libraries(&root)?;
    write_users_and_dirs(&root)?;
    fs::write(root.join(".complete"), b"").map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&debs);
    let _ = fs::remove_dir_all(dir);
    fs::rename(&root, dir).map_err(|e| format!("rename to {}: {e}", dir.display()))?;
    Ok(())
}

/// Copies every library `ldd` names for [`PROGRAMS`] (and the dynamic loader) from the
/// host to the same path in `root`, unless the packages brought it.
fn copy_libraries(root: &Path) -> Result<(), String> {
    let in_root = root.join("usr/lib/x86_64-linux-gnu");
    for prog in PROGRAMS {
        let o = Command::new("ldd")
            .arg(root.join(prog))
            .env("LD_LIBRARY_PATH", &in_root)
            .output()
            .map_err(|e| format!("ldd: {e}"))?;
        let text = String::from_utf8_lossy(&o.stdout);
        if !o.status.success() || text.contains("not found") {
            return Err(format!("ldd {prog}: {text}{}", stderr(&o)));
        }
        for line in text.lines() {
            // "libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)".
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next(),
                None => line.split_whitespace().next(),
            };
            let Some(path) = path.filter(|p| p.starts_with('/')) else {
                continue;
            };
            let src = Path::new(path);
            if src.starts_with(root) {
                continue;
            }
            let to = root.join(path.trim_start_matches('/'));
            if to.exists() {
                continue;
            }
            fs::create_dir_all(to.parent().expect("parent")).map_err(|e| e.to_string())?;
            fs::copy(src, &to).map_err(|e| format!("copy {path}: {e}"))?;
        }
    }
    Ok(())
}

/// Writes `text` at `rel` below `root`, creating the directories.
fn write_at(root: &Path, rel: &str, text: &[u8]) -> Result<(), String> {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).map_err(|e| e.to_string())?;
    fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
}

/// Users and the servers' directories (in the cached rootfs).
fn write_users_and_dirs(root: &Path) -> Result<(), String> {
    let w = |rel: &str, text: &[u8]| write_at(root, rel, text);
    w(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\n\
          nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    w(
        "etc/group",
        b"root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n",
    )?;
    for d in ["var/log/nginx", "var/lib/nginx", "var/lock", "run"] {
        fs::create_dir_all(root.join(d)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The scripts and what nginx serves (in each copy: edits here need no rebuild).
fn write_scripts(root: &Path) -> Result<(), String> {
    let w = |rel: &str, text: &[u8]| write_at(root, rel, text);
    w("srv/nginx.sh", NGINX_SH.as_bytes())?;
    w("srv/redis.sh", REDIS_SH.as_bytes())?;
    w("srv/www/index.html", PAGE.as_bytes())?;
    w("srv/www/big", &vec![b'x'; 1 << 20])?;
    for s in ["srv/nginx.sh", "srv/redis.sh"] {
        fs::set_permissions(root.join(s), fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
