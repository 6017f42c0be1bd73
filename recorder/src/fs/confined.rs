//! Where the hook may write: only below the output directories named in its own
//! configuration. The hook runs as root for whoever can set annotations, so `..`,
//! symlinks and anything outside those directories are refused, and files are
//! written atomically through directory file descriptors (no path re-resolution).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use rustix::io::Errno;

use seccomp_profile::exit::{Categorized, Category};

/// Default output directory.
pub const DEFAULT_OUTPUT_DIR: &str = "/var/lib/seccomp-recorder";

/// Output path errors.
#[derive(Debug, thiserror::Error)]
pub enum OutputPathError {
    /// No output directory is configured.
    #[error("no output directory is configured (hook --output-dir DIR)")]
    NoOutputDir,
    /// An output directory cannot be used.
    #[error("output directory {0} does not exist or is not a directory (create it, e.g. with seccomp-recorder install)")]
    BadOutputDir(PathBuf, #[source] io::Error),
    /// An output directory whose path is not UTF-8: the recording state, which is JSON,
    /// could not name it (hook JSON files, being JSON, cannot name one either).
    #[error("output directory {} is not valid UTF-8 (the recording state names it in JSON): use a UTF-8 path", .0.display())]
    NotUtf8(PathBuf),
    /// The requested path is refused.
    #[error("output path '{path}' refused: {reason}")]
    Refused {
        /// As requested.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// A symlink or a non-directory is on the way, or the file is not a regular file.
    #[error("output path {0} refused")]
    Unsafe(PathBuf, #[source] io::Error),
    /// Writing failed.
    #[error("cannot write {0}")]
    Io(PathBuf, #[source] io::Error),
}

/// Classifies an I/O error on `path`: our own refusals (InvalidInput) are bad input,
/// and so is a name the file system cannot hold (a component over NAME_MAX).
fn classify(path: PathBuf, e: io::Error) -> OutputPathError {
    if e.kind() == io::ErrorKind::InvalidInput || e.raw_os_error() == Some(libc::ENAMETOOLONG) {
        OutputPathError::Unsafe(path, e)
    } else {
        OutputPathError::Io(path, e)
    }
}

impl Categorized for OutputPathError {
    fn category(&self) -> Category {
        match self {
            OutputPathError::Io(..) => Category::Io,
            _ => Category::BadInput,
        }
    }
}

/// A resolved destination: an allowed directory and the path below it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Destination {
    /// The allowed (canonical) directory.
    pub root: PathBuf,
    /// Normal components below it (at least one: the file name).
    pub relative: PathBuf,
}

impl Destination {
    /// The full path.
    pub fn path(&self) -> PathBuf {
        self.root.join(&self.relative)
    }
}

/// The directories the hook may write to (or read base profiles from).
#[derive(Debug, Clone)]
pub struct OutputPolicy {
    dirs: Vec<PathBuf>,
}

impl OutputPolicy {
    /// A policy over `dirs` (each must exist; symlinks in the configured paths
    /// themselves are resolved once, here, because the administrator chose them).
    pub fn new(dirs: &[PathBuf]) -> Result<Self, OutputPathError> {
        if dirs.is_empty() {
            return Err(OutputPathError::NoOutputDir);
        }
        let mut canon = Vec::new();
        for d in dirs {
            let c = d
                .canonicalize()
                .map_err(|e| OutputPathError::BadOutputDir(d.clone(), e))?;
            if !c.is_dir() {
                return Err(OutputPathError::BadOutputDir(
                    d.clone(),
                    io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
                ));
            }
            if c.to_str().is_none() {
                return Err(OutputPathError::NotUtf8(c));
            }
            canon.push(c);
        }
        Ok(OutputPolicy { dirs: canon })
    }

    /// Resolves a requested path (pure, apart from nothing: no file system access).
    /// Relative paths resolve below the first directory.
    pub fn resolve(&self, requested: &str) -> Result<Destination, OutputPathError> {
        let refuse = |reason| OutputPathError::Refused {
            path: requested.to_owned(),
            reason,
        };
        let p = Path::new(requested);
        let mut normal = Vec::new();
        for c in p.components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(n) => normal.push(n),
                Component::ParentDir => return Err(refuse("'..' is not allowed")),
                Component::Prefix(_) => return Err(refuse("not a unix path")),
            }
        }
        if normal.is_empty() || requested.ends_with('/') {
            return Err(refuse("it names no file"));
        }
        let clean: PathBuf = normal.iter().collect();
        if p.is_absolute() {
            let abs = Path::new("/").join(&clean);
            for d in &self.dirs {
                if let Ok(rel) = abs.strip_prefix(d) {
                    if rel.as_os_str().is_empty() {
                        return Err(refuse("it names the output directory itself"));
                    }
                    return Ok(Destination {
                        root: d.clone(),
                        relative: rel.to_owned(),
                    });
                }
            }
            return Err(refuse("it is outside the output directories"));
        }
        Ok(Destination {
            root: self.dirs[0].clone(),
            relative: clean,
        })
    }
}

fn open_dir_at(dirfd: BorrowedFd<'_>, name: &OsStr, create: bool) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut opened = rfs::openat(dirfd, name, flags, Mode::empty());
    if create && matches!(opened, Err(Errno::NOENT)) {
        match rfs::mkdirat(dirfd, name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        opened = rfs::openat(dirfd, name, flags, Mode::empty());
    }
    opened.map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a symlink or not a directory", name.to_string_lossy()),
        ),
        e => e.into(),
    })
}

/// Opens the parent directory of `dest` without following symlinks at any step
/// (creating missing directories when `create`), returning it and the file name.
fn open_parent(dest: &Destination, create: bool) -> io::Result<(OwnedFd, &OsStr)> {
    let mut dir = rfs::open(
        &dest.root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let comps: Vec<&OsStr> = dest.relative.iter().collect();
    let (file, parents) = comps
        .split_last()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    for p in parents {
        dir = open_dir_at(dir.as_fd(), p, create)?;
    }
    Ok((dir, file))
}

fn check_not_symlink(dirfd: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    if let Ok(st) = rfs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW) {
        match rfs::FileType::from_raw_mode(st.st_mode) {
            rfs::FileType::Symlink => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the file is a symlink",
                ))
            }
            rfs::FileType::RegularFile => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a regular file",
                ))
            }
        }
    }
    Ok(())
}

/// Checks that `dest` could be written: every existing directory on the way is a real
/// directory and an existing file is a regular file (not a symlink). Creates nothing.
pub fn check_writable(dest: &Destination) -> Result<(), OutputPathError> {
    let err = |e: io::Error| classify(dest.path(), e);
    match open_parent(dest, false) {
        Ok((dir, name)) => check_not_symlink(dir.as_fd(), name).map_err(err),
        // Missing directories will be created at write time.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(e)),
    }
}

/// How [`write_in`] makes a file durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// A hook's result file: fsync'd (and the crash-test fault point before rename).
    Result,
    /// A file the user named: fsync'd.
    Yes,
    /// Run-directory state that dies with the machine: not fsync'd.
    No,
}

/// Writes `contents` as `name` in the directory `dir`: a temporary file (created
/// exclusively, never through a symlink) written, set to mode 0644 (whatever the
/// umask), fsync'd when `sync`, then renamed over `name` within the directory. Readers
/// see the old file or the new one; on failure the temporary file is removed. The one
/// writer of every result file (see also [`super::atomic`]).
pub fn write_in(dir: BorrowedFd<'_>, name: &OsStr, contents: &[u8], sync: Sync) -> io::Result<()> {
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".tmp-{}", std::process::id()));
    // A temporary file of ours left by a writer with this pid that was killed before
    // its rename (unlinkat never follows a symlink).
    let _ = rfs::unlinkat(dir, &tmp, AtFlags::empty());
    let fd = rfs::openat(
        dir,
        &tmp,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    let mut f = File::from(fd);
    let written = (|| {
        f.write_all(contents)?;
        // The umask may have narrowed the mode.
        rfs::fchmod(&f, Mode::from_raw_mode(0o644))?;
        if sync != Sync::No {
            f.sync_all()?;
        }
        if sync == Sync::Result {
            crate::fault::point(crate::fault::WRITE_BEFORE_RENAME);
        }
        rfs::renameat(dir, &tmp, dir, name)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = rfs::unlinkat(dir, &tmp, AtFlags::empty());
    }
    written
}

/// Writes `contents` to `dest`: temporary file + rename inside the (symlink-free)
/// parent directory, mode 0644, fsync'd. Never half-written.
pub fn write(dest: &Destination, contents: &[u8]) -> Result<(), OutputPathError> {
    let err = |e: io::Error| classify(dest.path(), e);
    let (dir, name) = open_parent(dest, true).map_err(err)?;
    check_not_symlink(dir.as_fd(), name).map_err(err)?;
    write_in(dir.as_fd(), name, contents, Sync::Result).map_err(err)
}

/// Reads a file below an allowed directory without following symlinks.
pub fn read(dest: &Destination) -> Result<Vec<u8>, OutputPathError> {
    use std::io::Read;
    let err = |e: io::Error| classify(dest.path(), e);
    let (dir, name) = open_parent(dest, false).map_err(err)?;
    let fd = rfs::openat(
        &dir,
        name,
        // NONBLOCK: opening a FIFO planted as a base profile must not wait.
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| err(e.into()))?;
    let f = File::from(fd);
    if !f.metadata().map_err(err)?.file_type().is_file() {
        return Err(err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let mut buf = Vec::new();
    f.take(16 * 1024 * 1024)
        .read_to_end(&mut buf)
        .map_err(err)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn an_output_directory_that_is_not_utf8_is_bad_input_with_one_line() {
        use std::os::unix::ffi::OsStrExt;
        let d = tempfile::tempdir().expect("tempdir");
        let odd = d.path().join(std::ffi::OsStr::from_bytes(b"out-\xff"));
        std::fs::create_dir(&odd).expect("mkdir");
        let e = OutputPolicy::new(&[odd]).expect_err("a non-UTF-8 directory");
        assert!(matches!(e, OutputPathError::NotUtf8(_)), "{e:?}");
        assert_eq!(e.category(), Category::BadInput);
        let text = e.to_string();
        assert!(
            text.contains("not valid UTF-8") && !text.contains('\n'),
            "{text}"
        );
        // A UTF-8 path to the same directory kind is fine.
        assert!(OutputPolicy::new(&[d.path().to_owned()]).is_ok());
    }

    #[test]
    fn a_fifo_is_refused_without_waiting() {
        let d = tempfile::tempdir().expect("tempdir");
        let fifo = d.path().join("base.json");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        let dest = policy(d.path()).resolve("base.json").expect("resolve");
        assert!(matches!(read(&dest), Err(OutputPathError::Unsafe(..))));
    }

    fn policy(dir: &Path) -> OutputPolicy {
        OutputPolicy::new(&[dir.to_owned()]).expect("policy")
    }

    #[test]
    fn relative_resolves_below_the_first_dir_and_absolute_must_be_inside() {
        let d = tempfile::tempdir().expect("tmp");
        let p = policy(d.path());
        let root = d.path().canonicalize().expect("canon");
        assert_eq!(
            p.resolve("a/b.json").expect("rel").path(),
            root.join("a/b.json")
        );
        let inside = format!("{}/x.json", root.display());
        assert_eq!(p.resolve(&inside).expect("abs").path(), root.join("x.json"));
        for bad in ["/etc/x", "../../x", "a/../../x", "", "/", "a/"] {
            assert!(p.resolve(bad).is_err(), "{bad} accepted");
        }
        assert!(p.resolve(&root.display().to_string()).is_err());
    }

    #[test]
    fn writes_atomically_with_0644_and_creates_subdirs() {
        let d = tempfile::tempdir().expect("tmp");
        let p = policy(d.path());
        let dest = p.resolve("sub/dir/out.json").expect("resolve");
        write(&dest, b"{}").expect("write");
        let md = std::fs::metadata(dest.path()).expect("md");
        assert_eq!(md.mode() & 0o777, 0o644);
        assert_eq!(read(&dest).expect("read"), b"{}");
    }

    #[test]
    fn symlinks_are_refused_and_nothing_is_written_through_them() {
        let d = tempfile::tempdir().expect("tmp");
        let outside = tempfile::tempdir().expect("tmp2");
        std::os::unix::fs::symlink(outside.path(), d.path().join("link")).expect("symlink dir");
        std::os::unix::fs::symlink(outside.path().join("f"), d.path().join("f.json"))
            .expect("symlink file");
        let p = policy(d.path());
        let via_dir = p.resolve("link/x.json").expect("resolve");
        assert!(check_writable(&via_dir).is_err());
        assert!(write(&via_dir, b"x").is_err());
        let via_file = p.resolve("f.json").expect("resolve");
        assert!(check_writable(&via_file).is_err());
        assert!(write(&via_file, b"x").is_err());
        assert_eq!(std::fs::read_dir(outside.path()).expect("ls").count(), 0);
    }
}
