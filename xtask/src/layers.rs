//! The direction of the dependencies between the folders of recorder/src, checked
//! (`cargo xtask layers`, and the lint step of `cargo xtask test`): a module may use
//! its own folder and the layers below it, never one above it or a neighbour in its
//! own layer. docs/design.md and CONTRIBUTING.md show the same order.
//!
//! The check reads the source: every `crate::` path (also in `use crate::{…}` groups)
//! and every `super::` path that climbs to the crate root, outside comments and
//! string literals. `lib.rs` and `main.rs` are the crate's roots and may name
//! everything.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The layers, highest first. The last one holds the crate's top-level files.
pub const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["session"],
    &["container", "registry"],
    &["kernel"],
    &["fs"],
    &["error", "fault", "observability"],
];

/// One use against the direction.
#[derive(Debug, PartialEq, Eq)]
pub struct BackEdge {
    /// The file, relative to the crate's src.
    pub file: PathBuf,
    /// 1-based line of the path.
    pub line: usize,
    /// The folder (or top-level file) the file is in.
    pub from: String,
    /// The module it names.
    pub to: String,
}

impl fmt::Display for BackEdge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match (layer_of(&self.from), layer_of(&self.to)) {
            (Some(a), Some(b)) if a == b => "a neighbour in the same layer",
            (Some(_), Some(_)) => "a layer above it",
            _ => "a module missing from the layer table (xtask/src/layers.rs)",
        };
        write!(
            f,
            "{}:{}: {} uses {} ({why})",
            self.file.display(),
            self.line,
            self.from,
            self.to
        )
    }
}

/// The order, for messages: `cli → session → container|registry → …`.
pub fn direction() -> String {
    LAYERS
        .iter()
        .map(|l| l.join("|"))
        .collect::<Vec<_>>()
        .join(" → ")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Whether `from` may use `to`.
pub fn allowed(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    match (layer_of(from), layer_of(to)) {
        (Some(a), Some(b)) => a < b,
        _ => false,
    }
}

/// Checks every file under `src` (the recorder crate's): the back edges found.
pub fn check(src: &Path) -> Result<Vec<BackEdge>> {
    let mut files = Vec::new();
    walk(src, &mut files)?;
    files.sort();
    let mut edges = Vec::new();
    for path in files {
        let rel = path.strip_prefix(src).unwrap_or(&path).to_path_buf();
        let Some(module) = module_path(&rel) else {
            continue; // lib.rs, main.rs: the roots
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (line, to) in top_modules_used(&module, &text) {
            if !allowed(&module[0], &to) {
                edges.push(BackEdge {
                    file: rel.clone(),
                    line,
                    from: module[0].clone(),
                    to,
                });
            }
        }
    }
    Ok(edges)
}

/// `cargo xtask layers`: fails listing every back edge.
pub fn run(src: &Path) -> Result<()> {
    let edges = check(src)?;
    for e in &edges {
        println!("{e}");
    }
    if !edges.is_empty() {
        bail!(
            "{} use(s) against the direction {} (docs/design.md): move the code down, or pass what it needs from above",
            edges.len(),
            direction()
        );
    }
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The module path of a file relative to src (`cli/audit/mod.rs` → `[cli, audit]`);
/// `None` for the crate roots.
pub fn module_path(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if parts.is_empty() && (stem == "lib" || stem == "main") {
        return None;
    }
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    Some(parts)
}

/// The crate's top-level modules a file names, with the line of each mention. Inline
/// modules (`mod tests { … }`) count for `super::`.
pub fn top_modules_used(module: &[String], text: &str) -> Vec<(usize, String)> {
    let code = strip_comments_and_strings(text);
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    // The inline modules open at this point: their names and the brace depth inside.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !is_ident(bytes[i - 1]);
        if bytes[i] == b'{' {
            depth += 1;
            i += 1;
        } else if bytes[i] == b'}' {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
        } else if starts_word && code[i..].starts_with("mod ") {
            let rest = &code[i + 4..];
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|&c| c.is_ascii_alphanumeric() || c == '_')
                .collect();
            let after = rest.trim_start()[name.len()..].trim_start();
            if !name.is_empty() && after.starts_with('{') {
                inline.push((name, depth + 1));
            }
            i += 4;
        } else if starts_word && code[i..].starts_with("crate::") {
            let after = i + "crate::".len();
            for name in names_after(&code[after..]) {
                found.push((line_at(&code, i), name));
            }
            i = after;
        } else if starts_word && code[i..].starts_with("super::") {
            // Climb as many levels as the path says.
            let mut level: Vec<String> = module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(n, _)| n.clone()))
                .collect();
            let mut j = i;
            while code[j..].starts_with("super::") {
                level.pop();
                j += "super::".len();
            }
            if level.is_empty() {
                for name in names_after(&code[j..]) {
                    found.push((line_at(&code, i), name));
                }
            }
            i = j;
        } else {
            i += 1;
        }
    }
    found
}

/// The first identifier of a path, or of each item of a `{…}` group.
fn names_after(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0usize;
        let mut names = Vec::new();
        let mut item_start = true;
        for (k, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && (c.is_ascii_alphabetic() || c == '_') && depth == 0 => {
                    let name: String = group[k..]
                        .chars()
                        .take_while(|&c| c.is_ascii_alphanumeric() || c == '_')
                        .collect();
                    if name != "self" {
                        names.push(name);
                    }
                    item_start = false;
                }
                _ => {}
            }
        }
        names
    } else {
        let name: String = rest
            .chars()
            .take_while(|&c| c.is_ascii_alphanumeric() || c == '_')
            .collect();
        if name.is_empty() {
            Vec::new()
        } else {
            vec![name]
        }
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn line_at(code: &str, at: usize) -> usize {
    code[..at].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The text with comments and the contents of string and char literals blanked
/// (newlines kept, so line numbers hold).
pub fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !is_ident(chars[i - 1] as u8))
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.extend(std::iter::repeat_n(' ', j - i + 1));
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    out.extend(std::iter::repeat_n(' ', hashes + 1));
                    j += hashes + 1;
                    break;
                }
                out.push(blank(chars[j]));
                j += 1;
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    out.push(' ');
                    i += 1;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1b}'), or a lifetime ('a): only the
            // literal is blanked.
            let close = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| i + 2 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    out.extend(std::iter::repeat_n(' ', end - i + 1));
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(path: &str) -> Vec<String> {
        module_path(Path::new(path)).unwrap()
    }

    fn used(file: &str, text: &str) -> Vec<String> {
        top_modules_used(&m(file), text)
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    }

    #[test]
    fn module_paths_follow_the_files() {
        assert_eq!(m("cli/audit/mod.rs"), ["cli", "audit"]);
        assert_eq!(m("cli/audit/records.rs"), ["cli", "audit", "records"]);
        assert_eq!(m("error.rs"), ["error"]);
        assert_eq!(module_path(Path::new("lib.rs")), None);
        assert_eq!(module_path(Path::new("main.rs")), None);
    }

    #[test]
    fn paths_groups_and_climbs_are_found_with_their_lines() {
        let text = "use crate::fs::atomic;\nuse crate::{kernel::tracer, self, text};\nfn f() { super::super::session::x(); }\n";
        assert_eq!(
            top_modules_used(&m("container/cri/mod.rs"), text),
            [
                (1, "fs".to_owned()),
                (2, "kernel".to_owned()),
                (2, "text".to_owned()),
                (3, "session".to_owned())
            ]
        );
        // One level up from a folder's file stays in the folder.
        assert!(used("container/hook.rs", "use super::annotations;").is_empty());
        // From a folder's mod.rs, super is the crate root.
        assert_eq!(used("container/mod.rs", "use super::session;"), ["session"]);
        // Inside an inline module, super is the file's module.
        let text = "mod tests {\n use super::unescape;\n fn f() { if x { super::y(); } }\n}\nuse super::cli;";
        assert_eq!(used("text.rs", text), ["cli"]);
    }

    #[test]
    fn comments_strings_and_other_crates_do_not_count() {
        let text = r##"
            // crate::cli is named in a comment
            /* crate::cli /* nested */ crate::session */
            /// [`crate::cli::run`]
            let s = "crate::cli";
            let r = r#"crate::session "quoted" "#;
            let c = '"'; let q = '\''; fn f<'a>(x: &'a str) {}
            use seccomp_profile::crate_like; use mycrate::session;
            use crate::fs;
        "##;
        assert_eq!(used("kernel/btf.rs", text), ["fs"]);
    }

    #[test]
    fn the_direction_is_enforced_both_ways_and_between_neighbours() {
        assert!(allowed("cli", "session"));
        assert!(allowed("session", "container"));
        assert!(allowed("kernel", "fs"));
        assert!(allowed("fs", "error"));
        assert!(allowed("cli", "cli"));
        assert!(!allowed("container", "session"));
        assert!(!allowed("error", "cli"));
        assert!(!allowed("container", "registry"));
        assert!(!allowed("observability", "fault"));
        assert!(!allowed("kernel", "nonexistent"));
    }

    #[test]
    fn a_back_edge_in_a_tree_fails_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("xtask-layers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("container")).unwrap();
        std::fs::create_dir_all(dir.join("session")).unwrap();
        std::fs::write(dir.join("lib.rs"), "pub mod cli;\n").unwrap();
        std::fs::write(dir.join("session/mod.rs"), "use crate::container::x;\n").unwrap();
        std::fs::write(
            dir.join("container/hook.rs"),
            "\nuse crate::session::record;\n",
        )
        .unwrap();
        let edges = check(&dir).unwrap();
        let err = run(&dir).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(edges.len(), 1);
        assert_eq!(
            edges[0].to_string(),
            "container/hook.rs:2: container uses session (a layer above it)"
        );
        assert!(
            err.starts_with("1 use(s) against the direction cli → session"),
            "{err}"
        );
    }

    #[test]
    fn the_real_tree_has_only_known_modules() {
        // Every folder and top-level file of the crate is in the table: a new one must
        // be placed in a layer, not slip through as "unknown".
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recorder/src");
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if name == "lib" || name == "main" {
                continue;
            }
            assert!(layer_of(&name).is_some(), "{name} is in no layer");
        }
    }
}
