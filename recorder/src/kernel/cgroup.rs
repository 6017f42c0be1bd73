//! cgroup v2 discovery and the throwaway cgroups `record` runs commands in.
//!
//! The eBPF program identifies a cgroup by the inode number of its cgroup v2
//! directory, and tests ancestors by level (depth below the cgroup2 root).

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use seccomp_profile::exit::{Categorized, Category};

/// A cgroup v2 id: the inode number of the cgroup directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CgroupId(pub u64);

/// Errors around cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup2 file system is mounted.
    #[error("no cgroup v2 hierarchy is mounted (need a cgroup2 mount, e.g. mount -t cgroup2 none /sys/fs/cgroup/unified)")]
    NoCgroup2,
    /// A cgroup file could not be read or written.
    #[error("cgroup operation failed on {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A process's cgroup line could not be found.
    #[error("process {pid} has no cgroup v2 membership in /proc/{pid}/cgroup")]
    NoMembership {
        /// The process.
        pid: i32,
    },
    /// Processes did not leave the cgroup in time.
    #[error("cgroup {0} still has processes after it was killed")]
    Busy(PathBuf),
    /// A cgroup path given by the user does not exist.
    #[error("cgroup {} does not exist (neither as given nor below the cgroup2 mount {}): give a directory of the cgroup v2 tree or a path as /proc/PID/cgroup shows it", path.display(), root.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
        /// The cgroup2 mount.
        root: PathBuf,
    },
    /// A path given as a cgroup is not a directory of the cgroup v2 tree.
    #[error("{} is not a cgroup v2 directory (the cgroup2 hierarchy is mounted at {}; cgroup v1 hierarchies cannot be recorded)", path.display(), root.display())]
    NotCgroup2 {
        /// The path as given.
        path: PathBuf,
        /// The cgroup2 mount.
        root: PathBuf,
    },
}

impl Categorized for CgroupError {
    fn category(&self) -> Category {
        match self {
            CgroupError::NoCgroup2 => Category::MissingKernelFeature,
            CgroupError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
                Category::Permission
            }
            CgroupError::Io { .. } | CgroupError::Busy(_) => Category::Io,
            CgroupError::NoMembership { .. }
            | CgroupError::NotFound { .. }
            | CgroupError::NotCgroup2 { .. } => Category::BadInput,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Finds the cgroup2 mount point in a mountinfo text (pure).
pub fn cgroup2_mount_from_mountinfo(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // fields: id parent major:minor root mount-point options [optional...] - fstype source super
        // Fields are separated by single spaces (a mount point may hold other blanks).
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split(' ').next()?;
        if fstype != "cgroup2" {
            return None;
        }
        let mount_point = left.split(' ').nth(4)?;
        Some(PathBuf::from(seccomp_profile::text::unescape_mountinfo(
            mount_point,
        )))
    })
}
/// The cgroup v2 path (relative to the cgroup2 root) in a `/proc/PID/cgroup` text (pure).
pub fn cgroup2_path_from_proc(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_end().to_owned())
}

/// The level of a cgroup path below the root: `/` is 0, `/a/b` is 2.
pub fn level_of(relative: &str) -> u32 {
    relative.split('/').filter(|c| !c.is_empty()).count() as u32
}

/// The mounted cgroup v2 hierarchy.
#[derive(Debug, Clone)]
pub struct Cgroup2 {
    root: PathBuf,
}

impl Cgroup2 {
    /// Finds the cgroup2 mount of this mount namespace.
    pub fn discover() -> Result<Self, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = fs::read_to_string(path).map_err(io_err(path))?;
        let root = cgroup2_mount_from_mountinfo(&text).ok_or(CgroupError::NoCgroup2)?;
        Ok(Cgroup2 { root })
    }

    /// The mount point.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cgroup v2 path of process `pid` (`self` when `None`), relative to the root.
    pub fn path_of_process(&self, pid: Option<i32>) -> Result<String, CgroupError> {
        let file = match pid {
            Some(p) => PathBuf::from(format!("/proc/{p}/cgroup")),
            None => PathBuf::from("/proc/self/cgroup"),
        };
        let text = fs::read_to_string(&file).map_err(io_err(&file))?;
        cgroup2_path_from_proc(&text).ok_or(CgroupError::NoMembership {
            pid: pid.unwrap_or_else(|| std::process::id() as i32),
        })
    }

    /// The directory of a relative cgroup path.
    pub fn dir(&self, relative: &str) -> PathBuf {
        self.root.join(relative.trim_start_matches('/'))
    }

    /// Resolves a cgroup named by a user: a directory of the cgroup2 tree
    /// (`/sys/fs/cgroup/kubepods.slice/...`), or a path relative to its root as
    /// `/proc/PID/cgroup` shows it (`/kubepods.slice/...`). Returns the directory and
    /// the path relative to the root.
    pub fn resolve(&self, given: &Path) -> Result<(PathBuf, String), CgroupError> {
        let not_v2 = || CgroupError::NotCgroup2 {
            path: given.to_owned(),
            root: self.root.clone(),
        };
        let candidates = [
            given.to_owned(),
            self.root.join(given.strip_prefix("/").unwrap_or(given)),
        ];
        let Some(dir) = candidates.into_iter().find(|c| c.is_dir()) else {
            if given.exists() {
                return Err(not_v2());
            }
            return Err(CgroupError::NotFound {
                path: given.to_owned(),
                root: self.root.clone(),
            });
        };
        let dir = fs::canonicalize(&dir).map_err(io_err(&dir))?;
        if !is_cgroup2_dir(&dir) {
            return Err(not_v2());
        }
        let root = fs::canonicalize(&self.root).map_err(io_err(&self.root))?;
        let relative = dir.strip_prefix(&root).map_err(|_| not_v2())?;
        Ok((dir.clone(), format!("/{}", relative.display())))
    }

    /// The id (directory inode) of the cgroup at `dir`.
    pub fn id_of(dir: &Path) -> Result<CgroupId, CgroupError> {
        let md = fs::metadata(dir).map_err(io_err(dir))?;
        Ok(CgroupId(md.ino()))
    }
}

/// Whether `dir` is on a cgroup2 file system.
pub fn is_cgroup2_dir(dir: &Path) -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs(2) with a valid path and an out struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0) && st.f_type as i64 == CGROUP2_SUPER_MAGIC
}

/// Whether a cgroup has processes (its `cgroup.events` says `populated 1`). A cgroup
/// whose directory is gone has none.
pub fn is_populated(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.events"))
        .map(|t| t.lines().any(|l| l.trim() == "populated 1"))
        .unwrap_or(false)
}

/// A cgroup created for one recording; removed (after killing leftovers) by `remove`.
#[derive(Debug)]
pub struct ScratchCgroup {
    dir: PathBuf,
    /// The id the eBPF program sees.
    pub id: CgroupId,
    /// Depth below the cgroup2 root.
    pub level: u32,
    removed: bool,
}

impl ScratchCgroup {
    /// Creates `<own cgroup>/<name>` in the cgroup v2 hierarchy.
    pub fn create(cg: &Cgroup2, name: &str) -> Result<Self, CgroupError> {
        let own = cg.path_of_process(None)?;
        let relative = format!("{}/{}", own.trim_end_matches('/'), name);
        let dir = cg.dir(&relative);
        fs::create_dir(&dir).map_err(io_err(&dir))?;
        let id = Cgroup2::id_of(&dir)?;
        Ok(ScratchCgroup {
            dir,
            id,
            level: level_of(&relative),
            removed: false,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `cgroup.procs` of this cgroup, opened for writing (close-on-exec).
    pub fn procs_file(&self) -> Result<fs::File, CgroupError> {
        let path = self.dir.join("cgroup.procs");
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err(&path))
    }

    /// Kills what is left in the cgroup, waits until it is empty and removes it.
    pub fn remove(mut self) -> Result<(), CgroupError> {
        self.removed = true;
        remove_cgroup_dir(&self.dir)
    }
}

impl Drop for ScratchCgroup {
    fn drop(&mut self) {
        if !self.removed {
            if let Err(e) = remove_cgroup_dir(&self.dir) {
                tracing::warn!(error = %e, "could not remove scratch cgroup");
            }
        }
    }
}

fn populated(dir: &Path) -> Result<bool, CgroupError> {
    let path = dir.join("cgroup.events");
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    Ok(text.lines().any(|l| l.trim() == "populated 1"))
}

/// Kills every process in `dir` (and below), waits for it to empty, removes it.
pub fn remove_cgroup_dir(dir: &Path) -> Result<(), CgroupError> {
    if !dir.exists() {
        return Ok(());
    }
    // Children first.
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_dir(&e.path())?;
            }
        }
    }
    if populated(dir)? {
        let kill = dir.join("cgroup.kill");
        if kill.exists() {
            fs::write(&kill, "1").map_err(io_err(&kill))?;
        } else {
            let procs = dir.join("cgroup.procs");
            let text = fs::read_to_string(&procs).map_err(io_err(&procs))?;
            for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: plain kill(2).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while populated(dir)? {
            if Instant::now() > deadline {
                return Err(CgroupError::Busy(dir.to_owned()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    fs::remove_dir(dir).map_err(io_err(dir))
}

/// How a cgroup about to be recorded relates to one already recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// It lies inside the recorded cgroup with this id.
    Inside(u64),
    /// It contains the recorded cgroup with this id.
    Contains(u64),
}

/// Whether `dir` (at `level` below the cgroup2 root) lies inside, or contains, one of
/// the `recorded` cgroups (by id: the directories' inode numbers). A task counts in
/// one recording only (the deepest), so nested recordings would split its calls.
pub fn overlap(dir: &Path, level: u32, recorded: &[u64]) -> Option<Overlap> {
    let id = |p: &Path| fs::metadata(p).ok().map(|m| m.ino());
    let mut up = dir.parent();
    for _ in 0..level {
        let Some(p) = up else { break };
        if let Some(i) = id(p).filter(|i| recorded.contains(i)) {
            return Some(Overlap::Inside(i));
        }
        up = p.parent();
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if let Some(i) = e
                    .metadata()
                    .ok()
                    .map(|m| m.ino())
                    .filter(|i| recorded.contains(i))
                {
                    return Some(Overlap::Contains(i));
                }
                stack.push(e.path());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_on_hybrid_and_pure_hosts() {
        let hybrid = "25 24 0:22 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n\
                      34 25 0:30 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n\
                      35 25 0:31 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu\n";
        assert_eq!(
            cgroup2_mount_from_mountinfo(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let pure = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            cgroup2_mount_from_mountinfo(pure),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(
            cgroup2_mount_from_mountinfo("30 23 0:26 / /x rw - ext4 /dev/sda rw\n"),
            None
        );
        let escaped = "30 23 0:26 / /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount_from_mountinfo(escaped),
            Some(PathBuf::from("/mnt/my cg"))
        );
    }

    #[test]
    fn parses_proc_cgroup_and_levels() {
        let text = "12:pids:/user.slice\n1:name=systemd:/\n0::/user.slice/session-1.scope\n";
        assert_eq!(
            cgroup2_path_from_proc(text).as_deref(),
            Some("/user.slice/session-1.scope")
        );
        assert_eq!(cgroup2_path_from_proc("1:cpu:/\n"), None);
        assert_eq!(level_of("/"), 0);
        assert_eq!(level_of("/a/b"), 2);
        assert_eq!(level_of("/libpod_parent/libpod-abc/"), 2);
    }

    #[test]
    fn overlap_looks_up_and_down_by_inode() {
        let t = tempfile::tempdir().expect("tempdir");
        let pod = t.path().join("kubepods/pod1");
        let c = pod.join("c1");
        fs::create_dir_all(c.join("sub")).expect("dirs");
        let ino = |p: &Path| fs::metadata(p).expect("stat").ino();
        assert_eq!(
            overlap(&c, 3, &[ino(&pod)]),
            Some(Overlap::Inside(ino(&pod)))
        );
        assert_eq!(
            overlap(&pod, 2, &[ino(&c)]),
            Some(Overlap::Contains(ino(&c)))
        );
        assert_eq!(
            overlap(&pod, 2, &[ino(&c.join("sub"))]),
            Some(Overlap::Contains(ino(&c.join("sub"))))
        );
        let sibling = t.path().join("kubepods/pod2");
        fs::create_dir_all(&sibling).expect("sibling");
        assert_eq!(overlap(&sibling, 2, &[ino(&pod), ino(&c)]), None);
        // Only `level` steps up: the root itself is never looked at.
        assert_eq!(overlap(&c, 1, &[ino(t.path())]), None);
    }
}
