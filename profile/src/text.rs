//! Undoing the kernel's escapes in the text it hands us: `\ooo` in /proc mountinfo,
//! `\xHH` in /dev/kmsg records.

/// A /proc mountinfo field: space, tab, newline and backslash are written `\ooo`.
pub fn unescape_mountinfo(s: &str) -> String {
    unescape(s, "", 3, 8)
}

/// A /dev/kmsg message: non-printable bytes (and `\`) are written `\xHH`.
pub fn unescape_kmsg(s: &str) -> String {
    unescape(s, "x", 2, 16)
}

/// Replaces each `\` + `marker` + `width` digits in `radix` by the byte they spell;
/// everything else is kept byte for byte, so the UTF-8 of non-ASCII text stays whole
/// (a lone or malformed escape stays as it is).
fn unescape(s: &str, marker: &str, width: usize, radix: u32) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && s.get(i + 1..).is_some_and(|r| r.starts_with(marker)) {
            let at = i + 1 + marker.len();
            // `get`: the bytes after the marker may be part of a multi-byte character.
            if let Some(Ok(v)) = s.get(at..at + width).map(|d| u8::from_str_radix(d, radix)) {
                out.push(v);
                i = at + width;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn octal_and_hex_escapes() {
        assert_eq!(unescape(r"/a\040b\134c", "", 3, 8), "/a b\\c");
        assert_eq!(unescape(r"x\x0ay\x5c", "x", 2, 16), "x\ny\\");
        assert_eq!(unescape(r"bad\x\xg1é\", "x", 2, 16), r"bad\x\xg1é\");
        assert_eq!(unescape("é\\351", "", 3, 8), "é\u{fffd}");
    }
}
