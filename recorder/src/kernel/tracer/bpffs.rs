//! The pins in bpffs: mounting bpffs, removing this build's pins (`unload`) and those
//! of older builds.

use super::*;

/// Ensures a bpf file system is mounted at the parent of `base` (mounting it when absent).
pub(super) fn ensure_bpffs(base: &Path) -> Result<(), TracerError> {
    if !base.starts_with("/sys/fs/bpf") {
        // A custom location must already be on bpffs: say so before pinning fails
        // with a bare EPERM.
        let existing = base
            .ancestors()
            .find(|p| p.exists())
            .unwrap_or(Path::new("/"));
        if is_bpffs(existing) {
            return Ok(());
        }
        return Err(TracerError::NotOnBpffs(existing.to_owned()));
    }
    let mount_point = base
        .ancestors()
        .find(|p| p.parent() == Some(Path::new("/sys/fs")) || p == &Path::new("/sys/fs/bpf"))
        .unwrap_or(Path::new("/sys/fs/bpf"));
    if is_bpffs(mount_point) {
        return Ok(());
    }
    let target = Path::new("/sys/fs/bpf");
    let c_target = std::ffi::CString::new("/sys/fs/bpf").expect("static path");
    let c_type = std::ffi::CString::new("bpf").expect("static str");
    // SAFETY: mount(2) with valid C strings.
    let rc = unsafe {
        libc::mount(
            c_type.as_ptr(),
            c_target.as_ptr(),
            c_type.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(TracerError::NoBpffs(
            target.to_owned(),
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

pub(super) fn is_bpffs(path: &Path) -> bool {
    const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs into a zeroed struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and out pointer.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == BPF_FS_MAGIC
}

/// Removes this build's pins (program and maps) when no recording is active.
/// Returns false when recordings are still active (nothing removed).
pub fn unload(paths: &TracerPaths) -> Result<bool, TracerError> {
    require_root()?;
    let dir = paths.pin_dir();
    if !dir.join(pins::PROGRAM).exists() {
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_err("cannot remove", &dir))?;
        }
        return Ok(true);
    }
    let mut tracer = Tracer::open(paths)?;
    let _lock = StateLock::acquire(&paths.run_dir)?;
    if !tracer.active()?.is_empty() {
        return Ok(false);
    }
    tracer.detach()?;
    drop(tracer);
    fs::remove_dir_all(&dir).map_err(io_err("cannot remove", &dir))?;
    remove_stale_builds(paths)?;
    let _ = fs::remove_dir(&paths.bpf_base);
    Ok(true)
}

/// Removes the pins left by other builds of this tool (another layout, found next to
/// ours) when their program is not attached. Returns the directories removed.
pub fn remove_stale_builds(paths: &TracerPaths) -> Result<Vec<PathBuf>, TracerError> {
    let current = paths.pin_dir();
    let entries = match fs::read_dir(&paths.bpf_base) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(TracerError::Io {
                what: "cannot list",
                path: paths.bpf_base.clone(),
                source: e,
            })
        }
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let dir = e.path();
        let is_build = e.file_name().to_str().is_some_and(|n| n.starts_with("v1-"));
        if dir == current || !is_build || !dir.is_dir() || dir.join(pins::LINK).exists() {
            continue;
        }
        fs::remove_dir_all(&dir).map_err(io_err("cannot remove stale pins", &dir))?;
        removed.push(dir);
    }
    Ok(removed)
}
