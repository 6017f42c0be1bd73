//! Files and directories we create are never writable by group or others, whatever
//! the umask of whoever runs us (a runtime may run hooks with umask 000).

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Mode of our directories: `rwxr-xr-x`.
pub const DIR_MODE: u32 = 0o755;

/// Creates `dir` and missing parents with [`DIR_MODE`], and takes group/other write
/// away from `dir` itself if it has it (e.g. created earlier under umask 000).
/// Parents that already existed are left as they are.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    // DirBuilder's mode is narrowed by the umask, never widened; a narrower umask is
    // fine, only a wider existing mode is fixed.
    let md = fs::metadata(dir)?;
    let mode = md.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode & !0o022))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_group_or_other_writable() {
        let d = tempfile::tempdir().expect("tempdir");
        let wide = d.path().join("wide");
        fs::create_dir(&wide).expect("mkdir");
        fs::set_permissions(&wide, fs::Permissions::from_mode(0o777)).expect("chmod");
        create_dir(&wide).expect("create");
        assert_eq!(
            fs::metadata(&wide).expect("md").permissions().mode() & 0o777,
            0o755
        );
        let deep = d.path().join("a/b/c");
        create_dir(&deep).expect("create");
        assert_eq!(
            fs::metadata(&deep).expect("md").permissions().mode() & 0o022,
            0
        );
    }
}
