//! Writing result files: atomically (temporary file + rename), never half-written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use seccomp_profile::exit::{Categorized, Category};

/// A file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}")]
pub struct WriteError {
    /// The destination.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

impl Categorized for WriteError {
    fn category(&self) -> Category {
        match self.source.kind() {
            io::ErrorKind::PermissionDenied => Category::Permission,
            _ => Category::Io,
        }
    }
}

/// Writes `contents` to `path` with mode 0644: a temporary file in the same directory,
/// fsync, then rename over the destination. Readers see the old file or the new one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    write_atomic_with(path, contents, true)
}

/// Like [`write_atomic`] without the fsync: for state that does not outlive a reboot
/// (run-directory state: the recordings it describes die with the machine).
pub fn write_atomic_volatile(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    write_atomic_with(path, contents, false)
}

fn write_atomic_with(path: &Path, contents: &[u8], sync: bool) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_owned(),
        source,
    };
    // A device, FIFO or socket (`-o /dev/null`, `-o /dev/stdout`) is written to as it
    // is: renaming over it would replace the device node with a file.
    if let Ok(md) = fs::metadata(path) {
        if !md.is_file() && !md.is_dir() {
            return OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut f| f.write_all(contents))
                .map_err(err);
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    // The directory the user named (symlinks in it followed, as any tool does); the
    // file itself is written by the one writer of result files.
    let dir = File::open(&dir).map_err(err)?;
    let sync = if sync {
        super::confined::Sync::Yes
    } else {
        super::confined::Sync::No
    };
    super::confined::write_in(dir.as_fd(), name, contents, sync).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn replaces_atomically_with_mode_0644() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("out.json");
        fs::write(&p, "old").expect("seed");
        write_atomic(&p, b"new").expect("write");
        assert_eq!(fs::read_to_string(&p).expect("read"), "new");
        assert_eq!(fs::metadata(&p).expect("md").mode() & 0o777, 0o644);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn devices_are_written_to_not_replaced() {
        write_atomic(Path::new("/dev/null"), b"discarded").expect("write /dev/null");
        let md = fs::metadata("/dev/null").expect("md");
        assert!(!md.is_file(), "/dev/null was replaced by a regular file");
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_file() {
        let e = write_atomic(Path::new("/nonexistent-dir/x.json"), b"x").unwrap_err();
        assert_eq!(e.to_string(), "cannot write /nonexistent-dir/x.json");
    }
}
