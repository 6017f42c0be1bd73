//! A private OCI registry on loopback for the registry tests: Debian's
//! `docker-registry` (distribution 2.8) with its own config and storage directory,
//! started once per test binary on a free 127.0.0.1 port. It runs under a small shell
//! that the kernel signals when the test binary exits (PR_SET_PDEATHSIG from a thread
//! that lives as long as the process): the shell stops the registry and removes the
//! directory.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running registry.
#[derive(Debug)]
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its directory (config, storage, htpasswd, log).
    pub dir: PathBuf,
}

/// Whether the registry binary is installed (`apt-get install docker-registry`).
pub fn available() -> bool {
    super::have("docker-registry")
}

/// The registry without authentication, started on first use.
pub fn open() -> &'static Registry {
    static OPEN: OnceLock<Registry> = OnceLock::new();
    OPEN.get_or_init(|| start("open", None))
}

/// A registry that wants `user`/`password` (htpasswd with a bcrypt hash made by
/// python3's crypt), started on first use.
pub fn with_login(user: &str, password: &str) -> &'static Registry {
    static LOGIN: OnceLock<Registry> = OnceLock::new();
    LOGIN.get_or_init(|| start("login", Some((user, password))))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start(tag: &str, login: Option<(&str, &str)>) -> Registry {
    let dir = std::env::temp_dir().join(format!("sr-e2e-registry-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("storage")).expect("registry dir");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
        dir.join("storage").display()
    );
    if let Some((user, password)) = login {
        let out = Command::new("python3")
            .args(["-W", "ignore", "-c"])
            .arg("import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))")
            .arg(password)
            .output()
            .expect("python3");
        assert!(out.status.success(), "bcrypt hash: {}", super::stderr(&out));
        let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).expect("htpasswd");
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: sr-e2e\n    path: {}\n",
            dir.join("htpasswd").display()
        ));
    }
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config).expect("registry config");
    spawn_supervised(&dir, &config_path);
    let reg = Registry { addr, dir };
    reg.wait_ready();
    reg
}

/// Starts `sh` (which starts the registry) from a thread that never ends, so that
/// the parent-death signal comes when the test binary exits, not when a test thread
/// does.
fn spawn_supervised(dir: &Path, config: &Path) {
    let script = format!(
        "trap 'kill $pid 2>/dev/null; wait $pid; rm -rf {dir}' TERM INT; docker-registry serve {config} >{log} 2>&1 & pid=$!; wait $pid",
        dir = dir.display(),
        config = config.display(),
        log = dir.join("registry.log").display(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl(2) is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn();
        let ok = child.is_ok();
        let _ = tx.send(child.map(|c| c.id()));
        if ok {
            loop {
                std::thread::park();
            }
        }
    });
    rx.recv().expect("spawner").expect("start docker-registry");
}

impl Registry {
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(&self.addr) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
                let mut answer = String::new();
                if s.write_all(req.as_bytes()).is_ok() && s.read_to_string(&mut answer).is_ok() {
                    // 200 open, 401 with a login: either way it serves the API.
                    if answer.starts_with("HTTP/1.")
                        && answer.contains("Docker-Distribution-Api-Version")
                    {
                        return;
                    }
                }
            }
            let log = std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "docker-registry on {} did not answer within 15 s: {log}",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `ADDR/REPO` (append `:TAG` or `@DIGEST`).
    pub fn repo(&self, repo: &str) -> String {
        format!("{}/{repo}", self.addr)
    }
}

/// `skopeo ARGS` (TLS verification off: the registry is plain HTTP on loopback).
pub fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo")
}
